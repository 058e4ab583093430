package controllers

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// vipGroupObserved is what one reconcile of a VIPGroup read, before any judgement.
type vipGroupObserved struct {
	nodes []corev1.Node
	// reports are the agents' reports by node.
	reports  map[string]contract.Report
	members  []keepalived.Member
	excluded []string
	// conflict is the older group this one yields to; nil when none. With one, the fields below
	// are not read.
	conflict    *conflict
	password    string
	passwordErr error
	// standby: the group serves an HAControlPlane's endpoint, so its agents keep a standby.
	standby bool
	// onStandby are the nodes whose standby runs keepalived, as kubelet reports it.
	onStandby map[string]bool
	// stale maps each node whose agent stopped refreshing its report to why; recheck is when the
	// next fresh report would turn stale.
	stale   map[string]string
	recheck time.Duration
	// heard are the nodes whose agent refreshes its report (a live agent).
	heard map[string]bool
}

// vipGroupDesired is what a VIPGroup's reconcile should leave behind.
type vipGroupDesired struct {
	status hacpv1.VIPGroupStatus
	// objects are applied in order; none when the group stands down or does not render.
	objects []ownedObject
	// events are recorded once the status is written.
	events []objectEvent
	// requeue is when to look again even if nothing happens.
	requeue time.Duration
	// notRendered says why the group does not render, for the log.
	notRendered string
}

// ownedObject is an object a VIPGroup owns, with what it is for error messages.
type ownedObject struct {
	obj  client.Object
	what string
}

type objectEvent struct {
	related                      runtime.Object
	typ, reason, action, message string
}

// recordEvents records events on obj.
func recordEvents(rec events.EventRecorder, obj runtime.Object, evs []objectEvent) {
	for _, e := range evs {
		rec.Eventf(obj, e.related, e.typ, e.reason, e.action, "%s", e.message)
	}
}

// agentReports decodes the reports of a group's agent Pods by node, the interfaces they report,
// and the nodes whose standby runs keepalived (kubelet reports its mirror Pod Ready). A
// terminating agent Pod's report no longer counts, but its interface does: the node still has
// it, and dropping it would leave the node pending (without a config) until the next agent
// reports, which the terminating agent would read as its node leaving the group.
func agentReports(pods []corev1.Pod) (reports map[string]contract.Report, interfaces map[string]string, standby map[string]bool) {
	reports, interfaces, standby = map[string]contract.Report{}, map[string]string{}, map[string]bool{}
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Spec.NodeName == "":
			continue
		case contract.IsStandby(p):
			if contract.StandbyServing(p) {
				standby[p.Spec.NodeName] = true
			}
			continue
		}
		rep := contract.ReportOf(p.Annotations)
		if rep.Interface != "" && (p.DeletionTimestamp.IsZero() || interfaces[p.Spec.NodeName] == "") {
			interfaces[p.Spec.NodeName] = rep.Interface
		}
		if p.DeletionTimestamp.IsZero() {
			reports[p.Spec.NodeName] = rep
		}
	}
	return reports, interfaces, standby
}

// memberNamesOn returns the names of a group's members among nodes (conflictWith compares them).
func memberNamesOn(nodes []corev1.Node) func(*hacpv1.VIPGroup) []string {
	return func(g *hacpv1.VIPGroup) []string {
		ms, _ := groupMembers(g, nodes, nil)
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.Name
		}
		return names
	}
}

// desiredVIPGroup decides, from what was observed, the status, the owned objects and the events:
// a group in conflict stands down, one that does not render keeps its last good config, and
// otherwise its members run their rendered configs.
func desiredVIPGroup(vg *hacpv1.VIPGroup, o vipGroupObserved, opts keepalived.Options, defaultImage string) vipGroupDesired {
	d := vipGroupDesired{status: hacpv1.VIPGroupStatus{
		ObservedGeneration: vg.Generation,
		VirtualRouterID:    vg.Spec.VirtualRouterID,
		VirtualIPs:         strings.Join(vg.Spec.VirtualIPs, ","),
		Conditions:         slices.Clone(vg.Status.Conditions),
		ConfigHash:         vg.Status.ConfigHash,
	}}
	if c := o.conflict; c != nil {
		d.standDown(vg, c)
		return d
	}
	d.set(vg, hacpv1.ConditionConflict, metav1.ConditionFalse, hacpv1.ReasonNoConflict, "no older VIPGroup claims these virtual IPs, or this VRID on these nodes")
	rendered, err := renderGroup(vg, o, opts)
	if err != nil {
		d.renderFailed(vg, o.excluded, err)
		return d
	}
	d.run(vg, o, rendered, defaultImage)
	return d
}

// renderGroup renders the members' configs. A node whose interface is not known yet gets none:
// its agent reports the interface first.
func renderGroup(vg *hacpv1.VIPGroup, o vipGroupObserved, opts keepalived.Options) (keepalived.Rendered, error) {
	if o.passwordErr != nil {
		return keepalived.Rendered{}, o.passwordErr
	}
	return keepalived.Render(keepalived.Input{
		Namespace: vg.Namespace, Name: vg.Name, Spec: vg.Spec, Members: o.members, Password: o.password, Options: opts,
		WaitForInterfaces: true,
	})
}

// standDown: an older group holds what this one claims; touch nothing and say who has it.
func (d *vipGroupDesired) standDown(vg *hacpv1.VIPGroup, c *conflict) {
	if !meta.IsStatusConditionTrue(vg.Status.Conditions, hacpv1.ConditionConflict) {
		d.events = append(d.events, objectEvent{related: c.other, typ: corev1.EventTypeWarning, reason: c.reason, action: "Render", message: c.message})
	}
	d.set(vg, hacpv1.ConditionConflict, metav1.ConditionTrue, c.reason, c.message)
	d.set(vg, hacpv1.ConditionReady, metav1.ConditionFalse, c.reason, c.message)
	d.keepNodes(vg)
}

// renderFailed: never replace a running config with nothing; the last good Secret stays as it is.
func (d *vipGroupDesired) renderFailed(vg *hacpv1.VIPGroup, excluded []string, err error) {
	msg := err.Error()
	if len(excluded) > 0 {
		msg += " (excluded: " + strings.Join(excluded, "; ") + ")"
	}
	d.set(vg, hacpv1.ConditionConfigValid, metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, truncate(msg, 2048))
	d.set(vg, hacpv1.ConditionReady, metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, "the spec cannot be rendered; the last good config keeps running")
	d.keepNodes(vg)
	d.notRendered = msg
}

// run: the members run their configs; the status merges the plan with the agents' reports.
func (d *vipGroupDesired) run(vg *hacpv1.VIPGroup, o vipGroupObserved, rendered keepalived.Rendered, defaultImage string) {
	msg := fmt.Sprintf("rendered configs for %d members", len(rendered.Configs)+len(rendered.Pending))
	if len(o.excluded) > 0 {
		msg += "; excluded: " + strings.Join(o.excluded, "; ")
	}
	d.set(vg, hacpv1.ConditionConfigValid, metav1.ConditionTrue, hacpv1.ReasonRendered, truncate(msg, 2048))
	d.objects = ownedObjects(vg, rendered.Configs, cmp.Or(vg.Spec.Image, defaultImage), o.standby)
	d.status.ConfigHash = setHash(rendered.Configs, rendered.Pending)
	down := unheardNodes(o.nodes)
	unheard := maps.Clone(down)
	for node, why := range o.stale {
		if unheard[node] == "" {
			unheard[node] = why
		}
	}
	d.status.Nodes = nodeStatuses(rendered.Plan, rendered.Configs, o.reports, unheard, servedByStandby(o, down))
	d.status.NodeCount = int32(len(d.status.Nodes))
	ready, master := readyCondition(vg.Generation, d.status.Nodes, rendered.Configs, o.reports, unheard)
	d.status.Master = master
	meta.SetStatusCondition(&d.status.Conditions, ready)
	if e := masterEvent(vg.Status.Master, master); e != nil {
		d.events = append(d.events, *e)
	}
	// Look again when the next live report would turn stale, even if nothing else happens.
	d.requeue = o.recheck
}

// servedByStandby are the nodes whose standby runs keepalived in place of their agent: kubelet
// reports the standby's mirror Pod Ready, the Node is Ready (not in down, unheardNodes: a silent
// kubelet's last word on the mirror Pod may be old), and no agent refreshes its report there (a
// live agent wins: just after a handover the standby's probe lags). An agent Pod that never
// started (its image cannot be pulled) has no report to refresh.
func servedByStandby(o vipGroupObserved, down map[string]string) map[string]bool {
	out := map[string]bool{}
	for node := range o.onStandby {
		if down[node] == "" && !o.heard[node] {
			out[node] = true
		}
	}
	return out
}

// applyFailed: the status says what failed; the members' last reports stay as they were, and the
// master events wait for a reconcile that applies.
func (d *vipGroupDesired) applyFailed(vg *hacpv1.VIPGroup, err error) {
	// From Ready as it was, so that its transition time moves only if its status does.
	if was, c := meta.FindStatusCondition(vg.Status.Conditions, hacpv1.ConditionReady), meta.FindStatusCondition(d.status.Conditions, hacpv1.ConditionReady); was != nil && c != nil {
		*c = *was
	}
	d.set(vg, hacpv1.ConditionReady, metav1.ConditionFalse, hacpv1.ReasonApplyFailed, truncate(err.Error(), 2048))
	d.keepNodes(vg)
	d.status.ConfigHash = vg.Status.ConfigHash
	d.events = nil
}

func (d *vipGroupDesired) keepNodes(vg *hacpv1.VIPGroup) {
	d.status.Nodes, d.status.Master, d.status.NodeCount = vg.Status.Nodes, vg.Status.Master, vg.Status.NodeCount
}

func (d *vipGroupDesired) set(vg *hacpv1.VIPGroup, typ string, status metav1.ConditionStatus, reason, msg string) {
	setCondition(&d.status.Conditions, vg.Generation, typ, status, reason, msg)
}

// masterEvent says how the VIPs moved, nil when they did not.
func masterEvent(prev, master string) *objectEvent {
	switch {
	case master == prev:
		return nil
	case master == "":
		return &objectEvent{typ: corev1.EventTypeWarning, reason: "NoMaster", action: "Failover", message: fmt.Sprintf("no node holds the virtual IPs (was %s)", prev)}
	case prev == "":
		return &objectEvent{typ: corev1.EventTypeNormal, reason: "MasterElected", action: "Failover", message: fmt.Sprintf("%s holds the virtual IPs", master)}
	}
	return &objectEvent{typ: corev1.EventTypeNormal, reason: "MasterChanged", action: "Failover", message: fmt.Sprintf("virtual IPs moved from %s to %s", prev, master)}
}

// ownedObjects are what runs a VIPGroup, in the order they are applied.
func ownedObjects(vg *hacpv1.VIPGroup, configs map[string]keepalived.NodeConfig, image string, standby bool) []ownedObject {
	out := []ownedObject{{desiredKeepalivedSecret(vg, configs), "the config Secret " + keepalivedSecretName(vg)}}
	sa, role, rb := desiredAgentRBAC(vg)
	for _, obj := range []client.Object{sa, role, rb} {
		out = append(out, ownedObject{obj, fmt.Sprintf("the agents' %T %s", obj, obj.GetName())})
	}
	return append(out, ownedObject{desiredDaemonSet(vg, image, standby), "the DaemonSet " + daemonSetName(vg)})
}
