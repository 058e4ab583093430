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

// Reconcile brings one VIPGroup's rendered configs, DaemonSet and status up to date: it observes,
// computes what should be (desiredVIPGroup, pure), applies that and writes the status once.
func (r *VIPGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var vg hacpv1.VIPGroup
	// Each agent drops the VIPs as it stops.
	if live, err := getLive(ctx, r.Client, req.NamespacedName, &vg); !live {
		return ctrl.Result{}, err
	}
	o, err := r.observe(ctx, &vg)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := desiredVIPGroup(&vg, o, r.Options, r.AgentImage)
	if d.notRendered != "" {
		log.FromContext(ctx).Info("VIPGroup does not render, keeping the last good config", "vipgroup", klog.KObj(&vg), "reason", d.notRendered)
	}
	if applyErr := r.applyOwnedObjects(ctx, &vg, d.objects); applyErr != nil {
		d.applyFailed(&vg, applyErr)
		if err := applyStatus(ctx, r.Client, &vg, &d.status); err != nil {
			log.FromContext(ctx).Error(err, "Writing the status after a failure", "vipgroup", klog.KObj(&vg))
		}
		return ctrl.Result{}, applyErr
	}
	if err := applyStatus(ctx, r.Client, &vg, &d.status); err != nil {
		return ctrl.Result{}, err
	}
	// Events only after the status write succeeded.
	recordEvents(r.Recorder, &vg, d.events)
	return refreshed(ctrl.Result{RequeueAfter: d.requeue}), nil
}

// observe reads what one VIPGroup's reconcile decides from. A group in conflict with an older one
// stands down: nothing more is read (reading the password may create its Secret).
func (r *VIPGroupReconciler) observe(ctx context.Context, vg *hacpv1.VIPGroup) (vipGroupObserved, error) {
	var o vipGroupObserved
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return o, err
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(vg.Namespace), client.MatchingLabels{LabelVIPGroup: vg.Name}); err != nil {
		return o, err
	}
	var groups hacpv1.VIPGroupList
	if err := r.List(ctx, &groups); err != nil {
		return o, err
	}
	o.nodes = nodes.Items
	var interfaces map[string]string
	o.reports, interfaces, o.onStandby = agentReports(pods.Items)
	o.members, o.excluded = groupMembers(vg, nodes.Items, interfaces)
	if o.conflict = conflictWith(vg, groups.Items, memberNamesOn(nodes.Items)); o.conflict != nil {
		return o, nil
	}
	o.password, o.passwordErr = r.password(ctx, vg)
	var err error
	if o.standby, err = r.servesControlPlane(ctx, vg); err != nil {
		return o, err
	}
	// Heartbeats are judged on the real clock: how long an agent has been silent is not a
	// decision to test by stepping time.
	now := time.Now()
	refreshed := r.beats.observe(client.ObjectKeyFromObject(vg), pods.Items, now)
	o.stale, o.recheck = staleReports(refreshed, now)
	o.heard = map[string]bool{}
	for node := range refreshed {
		o.heard[node] = o.stale[node] == ""
	}
	return o, nil
}

// applyOwnedObjects applies what runs a VIPGroup, in order: its config Secret, the agents' RBAC
// and the DaemonSet. The error names the object that failed.
func (r *VIPGroupReconciler) applyOwnedObjects(ctx context.Context, vg *hacpv1.VIPGroup, objects []ownedObject) error {
	for _, o := range objects {
		if err := applyOwned(ctx, r.Client, vg, o.obj); err != nil {
			return fmt.Errorf("applying %s: %w", o.what, err)
		}
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
