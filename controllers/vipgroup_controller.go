package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// VIPGroupReconciler renders keepalived configs for a VIPGroup's members and runs them with a
// DaemonSet of agents.
type VIPGroupReconciler struct {
	client.Client
	// APIReader reads objects outside the cache: a user's VRRP password Secret carries no hacp label.
	APIReader  client.Reader
	Scheme     *runtime.Scheme
	Clock      clock.PassiveClock
	Recorder   events.EventRecorder
	AgentImage string
	Options    keepalived.Options

	beats heartbeats
}

// +kubebuilder:rbac:groups=hacp.dev,resources=vipgroups,verbs=get;list;watch
// +kubebuilder:rbac:groups=hacp.dev,resources=vipgroups/status,verbs=get;patch;update
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Namespaced permissions (Secrets, DaemonSets, the agents' RBAC) are granted by a Role in the
// namespaces hacp manages (config/rbac/namespaced_role.yaml): no cluster-wide Secret access.

// Reconcile brings one VIPGroup's rendered configs, DaemonSet and status up to date.
func (r *VIPGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var vg hacpv1.VIPGroup
	if err := r.Get(ctx, req.NamespacedName, &vg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vg.DeletionTimestamp.IsZero() {
		// Everything hacp made carries an owner reference; the garbage collector removes it, and
		// each agent drops the VIPs as it stops.
		return ctrl.Result{}, nil
	}
	gen := vg.Generation
	status := hacpv1.VIPGroupStatus{
		ObservedGeneration: gen,
		VirtualRouterID:    vg.Spec.VirtualRouterID,
		VirtualIPs:         strings.Join(vg.Spec.VirtualIPs, ","),
		Conditions:         vg.Status.Conditions,
		ConfigHash:         vg.Status.ConfigHash,
	}
	prevMaster := vg.Status.Master

	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return ctrl.Result{}, err
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(vg.Namespace), client.MatchingLabels{LabelVIPGroup: vg.Name}); err != nil {
		return ctrl.Result{}, err
	}
	reports := map[string]contract.Report{}
	interfaces := map[string]string{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" || !p.DeletionTimestamp.IsZero() {
			continue
		}
		rep := contract.ReportOf(p.Annotations)
		reports[p.Spec.NodeName] = rep
		if rep.Interface != "" {
			interfaces[p.Spec.NodeName] = rep.Interface
		}
	}
	members, excluded := groupMembers(&vg, nodes.Items, interfaces)

	// A VRID clash with an older group: stand down, touch nothing, say who has it.
	var groups hacpv1.VIPGroupList
	if err := r.List(ctx, &groups); err != nil {
		return ctrl.Result{}, err
	}
	membersOf := func(g *hacpv1.VIPGroup) []string {
		ms, _ := groupMembers(g, nodes.Items, nil)
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.Name
		}
		return names
	}
	if c := conflictWith(&vg, groups.Items, membersOf); c != nil {
		setCondition(&status.Conditions, gen, hacpv1.ConditionConflict, metav1.ConditionTrue, c.reason, c.message)
		setCondition(&status.Conditions, gen, hacpv1.ConditionReady, metav1.ConditionFalse, c.reason, c.message)
		status.Nodes, status.Master, status.NodeCount = vg.Status.Nodes, vg.Status.Master, vg.Status.NodeCount
		if err := applyStatus(ctx, r.Client, &vg, &status); err != nil {
			return ctrl.Result{}, err
		}
		if !meta.IsStatusConditionTrue(vg.Status.Conditions, hacpv1.ConditionConflict) {
			r.Recorder.Eventf(&vg, c.other, corev1.EventTypeWarning, c.reason, "Render", c.message)
		}
		return refreshed(ctrl.Result{}), nil
	}
	setCondition(&status.Conditions, gen, hacpv1.ConditionConflict, metav1.ConditionFalse, hacpv1.ReasonNoConflict, "no older VIPGroup claims these virtual IPs, or this VRID on these nodes")

	password, err := r.password(ctx, &vg)
	var configs map[string]keepalived.NodeConfig
	if err == nil {
		configs, err = keepalived.Render(keepalived.Input{
			Namespace: vg.Namespace, Name: vg.Name, Spec: vg.Spec, Members: members, Password: password, Options: r.Options,
		})
	}
	if err != nil {
		// Never replace a running config with nothing: the last good Secret stays as it is.
		msg := err.Error()
		if len(excluded) > 0 {
			msg += " (excluded: " + strings.Join(excluded, "; ") + ")"
		}
		setCondition(&status.Conditions, gen, hacpv1.ConditionConfigValid, metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, truncate(msg, 2048))
		setCondition(&status.Conditions, gen, hacpv1.ConditionReady, metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, "the spec cannot be rendered; the last good config keeps running")
		status.Nodes, status.Master, status.NodeCount = vg.Status.Nodes, vg.Status.Master, vg.Status.NodeCount
		logger.Info("VIPGroup does not render, keeping the last good config", "vipgroup", klog.KObj(&vg), "reason", msg)
		return refreshed(ctrl.Result{}), applyStatus(ctx, r.Client, &vg, &status)
	}
	// A node whose interface is not known yet gets no config: the agent reports it first.
	if vg.Spec.Interface == "" {
		for name, c := range configs {
			if interfaces[name] == "" {
				c.Hash, c.Text = "", nil
				configs[name] = c
			}
		}
	}
	msg := fmt.Sprintf("rendered configs for %d members", len(configs))
	if len(excluded) > 0 {
		msg += "; excluded: " + strings.Join(excluded, "; ")
	}
	setCondition(&status.Conditions, gen, hacpv1.ConditionConfigValid, metav1.ConditionTrue, hacpv1.ReasonRendered, truncate(msg, 2048))

	image := vg.Spec.Image
	if image == "" {
		image = r.AgentImage
	}
	plan, err := keepalived.PriorityPlan(vg.Spec, members)
	if err == nil {
		err = r.applyOwnedObjects(ctx, &vg, configs, image)
	}
	if err != nil {
		// The status says what failed; the members' last reports stay as they were.
		setCondition(&status.Conditions, gen, hacpv1.ConditionReady, metav1.ConditionFalse, hacpv1.ReasonApplyFailed, truncate(err.Error(), 2048))
		status.Nodes, status.Master, status.NodeCount = vg.Status.Nodes, vg.Status.Master, vg.Status.NodeCount
		if serr := applyStatus(ctx, r.Client, &vg, &status); serr != nil {
			logger.Error(serr, "Writing the status after a failure", "vipgroup", klog.KObj(&vg))
		}
		return ctrl.Result{}, err
	}
	status.ConfigHash = setHash(configs)
	unheard := unheardNodes(nodes.Items)
	// Heartbeats are judged on the real clock: how long an agent has been silent is not a
	// decision to test by stepping time.
	now := time.Now()
	stale, recheck := staleReports(r.beats.observe(req.NamespacedName, pods.Items, now), now)
	for node, why := range stale {
		if unheard[node] == "" {
			unheard[node] = why
		}
	}
	status.Nodes = nodeStatuses(plan, configs, reports, unheard)
	status.NodeCount = int32(len(status.Nodes))
	ready, master := readyCondition(gen, status.Nodes, configs, reports, unheard)
	status.Master = master
	meta.SetStatusCondition(&status.Conditions, ready)
	if err := applyStatus(ctx, r.Client, &vg, &status); err != nil {
		return ctrl.Result{}, err
	}
	// Events only after the status write succeeded.
	if master != prevMaster {
		switch {
		case master == "":
			r.Recorder.Eventf(&vg, nil, corev1.EventTypeWarning, "NoMaster", "Failover", "no node holds the virtual IPs (was %s)", prevMaster)
		case prevMaster == "":
			r.Recorder.Eventf(&vg, nil, corev1.EventTypeNormal, "MasterElected", "Failover", "%s holds the virtual IPs", master)
		default:
			r.Recorder.Eventf(&vg, nil, corev1.EventTypeNormal, "MasterChanged", "Failover", "virtual IPs moved from %s to %s", prevMaster, master)
		}
	}
	// Look again when the next live report would turn stale, even if nothing else happens.
	return refreshed(ctrl.Result{RequeueAfter: recheck}), nil
}

// applyOwnedObjects applies what runs a VIPGroup: its config Secret, the agents' RBAC and the
// DaemonSet. The error names the object that failed.
func (r *VIPGroupReconciler) applyOwnedObjects(ctx context.Context, vg *hacpv1.VIPGroup, configs map[string]keepalived.NodeConfig, image string) error {
	if err := applyOwned(ctx, r.Client, vg, desiredKeepalivedSecret(vg, configs)); err != nil {
		return fmt.Errorf("applying the config Secret %s: %w", keepalivedSecretName(vg), err)
	}
	sa, role, rb := desiredAgentRBAC(vg)
	for _, obj := range []client.Object{sa, role, rb} {
		if err := applyOwned(ctx, r.Client, vg, obj); err != nil {
			return fmt.Errorf("applying the agents' %T %s: %w", obj, obj.GetName(), err)
		}
	}
	standby, err := r.servesControlPlane(ctx, vg)
	if err != nil {
		return err
	}
	if err := applyOwned(ctx, r.Client, vg, desiredDaemonSet(vg, image, standby)); err != nil {
		return fmt.Errorf("applying the DaemonSet %s: %w", daemonSetName(vg), err)
	}
	return nil
}

// servesControlPlane reports whether an HAControlPlane in the group's namespace names it as the
// VIPGroup of its endpoint: only then do its agents keep a node-local standby, which serves the VIP
// when they cannot run (cold boot, hacp removed) and so outlives the VIPGroup itself.
func (r *VIPGroupReconciler) servesControlPlane(ctx context.Context, vg *hacpv1.VIPGroup) (bool, error) {
	var list hacpv1.HAControlPlaneList
	if err := r.List(ctx, &list, client.InNamespace(vg.Namespace)); err != nil {
		return false, err
	}
	for _, h := range list.Items {
		if ref := h.Spec.VIPGroupRef; ref != nil && ref.Name == vg.Name {
			return true, nil
		}
	}
	return false, nil
}

// password returns the VRRPv2 password: the referenced Secret's, or one generated once into an
// owned Secret. VRRPv3 has none.
func (r *VIPGroupReconciler) password(ctx context.Context, vg *hacpv1.VIPGroup) (string, error) {
	if vg.Spec.VRRPVersion == 3 {
		return "", nil
	}
	if ref := vg.Spec.PasswordSecretRef; ref != nil {
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: ref.Name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", fmt.Errorf("spec.passwordSecretRef: Secret %s/%s not found", vg.Namespace, ref.Name)
			}
			return "", fmt.Errorf("spec.passwordSecretRef: reading Secret %s/%s: %w", vg.Namespace, ref.Name, err)
		}
		key := ref.Key
		if key == "" {
			key = "password"
		}
		pw, ok := s.Data[key]
		if !ok || len(pw) == 0 {
			return "", fmt.Errorf("spec.passwordSecretRef: Secret %s/%s has no key %q", vg.Namespace, ref.Name, key)
		}
		return strings.TrimRight(string(pw), "\r\n"), nil
	}
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: passwordSecretName(vg)}, &s)
	switch {
	case err == nil && len(s.Data["password"]) > 0:
		return string(s.Data["password"]), nil
	case err != nil && !apierrors.IsNotFound(err):
		return "", err
	}
	// Generated once; never rotated silently (every node must change it in the same render).
	pw := keepalived.GeneratePassword()
	if err := r.Create(ctx, withOwner(r.Scheme, vg, desiredPasswordSecret(vg, pw))); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("password Secret %s appeared concurrently; retrying", passwordSecretName(vg))
		}
		return "", err
	}
	return pw, nil
}

// SetupWithManager registers the reconciler and what it watches.
func (r *VIPGroupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	allGroups := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list hacpv1.VIPGroupList
		if err := mgr.GetClient().List(ctx, &list); err != nil {
			return nil
		}
		out := make([]reconcile.Request, len(list.Items))
		for i, g := range list.Items {
			out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: g.Namespace, Name: g.Name}}
		}
		return out
	})
	agentPods := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[LabelVIPGroup]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&hacpv1.VIPGroup{}).
		Owns(&corev1.Secret{}).
		Owns(&appsv1.DaemonSet{}).
		Owns(&rbacv1.Role{}).
		Watches(&corev1.Node{}, allGroups).
		Watches(&corev1.Pod{}, agentPods).
		// A VRID conflict is decided across groups: any group's change can resolve another's.
		Watches(&hacpv1.VIPGroup{}, allGroups).
		// Whether a group serves a control-plane endpoint decides its standby.
		Watches(&hacpv1.HAControlPlane{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			h, ok := o.(*hacpv1.HAControlPlane)
			if !ok || h.Spec.VIPGroupRef == nil {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: h.Namespace, Name: h.Spec.VIPGroupRef.Name}}}
		})).
		Named("vipgroup").
		Complete(r)
}
