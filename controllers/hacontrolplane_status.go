package controllers

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/etcdprobe"
	"hacp.dev/hacp/internal/quorum"
)

// maxWhatIf bounds status.whatIf (the CRD allows 64).
const maxWhatIf = 48

// observed is what the HAControlPlane reconciler read, before any judgement.
type observed struct {
	nodes []corev1.Node
	// apiServers and etcdPods are kubeadm's mirror pods by node name.
	apiServers map[string]*corev1.Pod
	etcdPods   map[string]*corev1.Pod
	// etcd is the probed cluster, nil without access; etcdErr says why it failed.
	etcd    *etcdprobe.Cluster
	etcdErr error
	// etcdEndpoints are the client URLs the cluster was probed through.
	etcdEndpoints []string
	// vipGroup is the referenced VIPGroup, nil without one or when reading it failed (vipGroupErr).
	vipGroup    *hacpv1.VIPGroup
	vipGroupErr error
	// dead are the etcd members hacp removed or would remove (spec.etcd.removeDeadMembers).
	dead []hacpv1.DeadMemberStatus
	// certificates are the control plane's served certificates, as last read.
	certificates []certexpiry.Observed
	// now is when this was observed: certificate expiry is judged against it.
	now time.Time
}

// haControlPlaneDesired is the status an HAControlPlane's reconcile computes, and the events it
// records once the status is written.
type haControlPlaneDesired struct {
	status hacpv1.HAControlPlaneStatus
	events []objectEvent
}

// desiredHAControlPlane computes the status from what was observed: quorum, the VIP, whether the
// control plane serves, and its certificates. The join material's part is the reconciler's.
func desiredHAControlPlane(hcp *hacpv1.HAControlPlane, o observed) haControlPlaneDesired {
	gen := hcp.Generation
	d := haControlPlaneDesired{status: *hcp.Status.DeepCopy()}
	st := &d.status
	st.ObservedGeneration, st.DeadMembers = gen, o.dead
	qc, res, _ := quorumStatus(gen, o, st)
	st.VIPMaster = ""
	if o.vipGroup != nil {
		st.VIPMaster = o.vipGroup.Status.Master
	}
	vc := vipCondition(gen, hcp, o.vipGroup, o.vipGroupErr)
	ac := availableCondition(gen, res, st.Members, st.VIPMaster, vc, hcp.Spec.VIPGroupRef != nil)
	var cc metav1.Condition
	st.Certificates, st.EarliestCertificateExpiry, cc = certificatesStatus(gen, o.now, hcp.Spec.Certificates, o.certificates)
	for _, c := range []metav1.Condition{qc, vc, ac, cc} {
		meta.SetStatusCondition(&st.Conditions, c)
	}
	d.events = conditionEvents(hcp.Status.Conditions, qc, cc)
	return d
}

// conditionEvents: a change of QuorumHealthy's reason, and certificates newly found wanting.
func conditionEvents(was []metav1.Condition, quorum, certs metav1.Condition) []objectEvent {
	var out []objectEvent
	if prev := meta.FindStatusCondition(was, hacpv1.ConditionQuorumHealthy); prev == nil || prev.Reason != quorum.Reason {
		typ := corev1.EventTypeNormal
		if quorum.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		out = append(out, objectEvent{typ: typ, reason: quorum.Reason, action: "QuorumCheck", message: quorum.Message})
	}
	if prev := meta.FindStatusCondition(was, hacpv1.ConditionCertificatesValid); certs.Status == metav1.ConditionFalse && (prev == nil || prev.Reason != certs.Reason) {
		out = append(out, objectEvent{typ: corev1.EventTypeWarning, reason: certs.Reason, action: "CertificateCheck", message: certs.Message})
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	if p == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// quorumMembers joins Nodes, mirror pods, etcd members and keepalived state by name.
func quorumMembers(o observed) ([]quorum.Member, map[string]string, string) {
	byName := map[string]*quorum.Member{}
	addr := map[string]string{}
	get := func(name string) *quorum.Member {
		if m, ok := byName[name]; ok {
			return m
		}
		m := &quorum.Member{Name: name}
		byName[name] = m
		return m
	}
	for i := range o.nodes {
		n := &o.nodes[i]
		m := get(n.Name)
		m.HasNode, m.NodeReady = true, nodeReady(n)
		m.APIServerReady = m.NodeReady && podReady(o.apiServers[n.Name])
		addr[n.Name] = internalIP(n)
	}
	source := ""
	if o.etcd != nil {
		source = "the etcd member list"
		for _, em := range o.etcd.Members {
			m := get(em.DisplayName())
			m.HasEtcd, m.EtcdID, m.Learner, m.EtcdHealthy = true, em.ID, em.Learner, em.Healthy
		}
	} else {
		source = "kubeadm's etcd mirror pods (no etcd access configured: membership unverified, a member of a removed node is invisible and a lost member counts until its Node is NotReady; set spec.etcd)"
		if o.etcdErr != nil {
			source = "kubeadm's etcd mirror pods (etcd unreachable: " + o.etcdErr.Error() + ")"
		}
		for node, p := range o.etcdPods {
			m, selected := byName[node]
			if !selected {
				continue // a mirror pod on a Node this HAControlPlane does not select
			}
			m.HasEtcd = true
			m.EtcdHealthy = m.NodeReady && podReady(p)
		}
	}
	if vg := o.vipGroup; vg != nil {
		for _, ns := range vg.Status.Nodes {
			m, ok := byName[ns.Name]
			if !ok {
				continue
			}
			// A node that is not Ready, or whose agent stopped reporting (the VIPGroup no
			// longer counts its report), cannot be counted on to run keepalived.
			m.Keepalived = m.NodeReady && !ns.Unheard
			m.VIPEligible = m.Keepalived && ns.State != hacpv1.VRRPStateFault && ns.State != hacpv1.VRRPStateStop
		}
	}
	out := make([]quorum.Member, 0, len(byName))
	for _, m := range byName {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, addr, source
}

// memberReady: the Node is Ready and nothing fresher says otherwise. A Node's Ready condition
// lags a power loss by the node-monitor grace period (about 50 s), while etcd's own health (probed
// every few seconds when spec.etcd is set) and the agent's heartbeat (the VIPGroup stops counting a
// report after StaleAfter) show it within seconds.
func memberReady(m quorum.Member, o observed) bool {
	if !m.NodeReady {
		return false
	}
	if o.etcd != nil && m.HasEtcd && !m.EtcdHealthy {
		return false
	}
	if vg := o.vipGroup; vg != nil {
		for _, ns := range vg.Status.Nodes {
			if ns.Name == m.Name && ns.Unheard {
				return false
			}
		}
	}
	return true
}

// quorumStatus fills the quorum part of the status and returns the QuorumHealthy condition.
func quorumStatus(gen int64, o observed, st *hacpv1.HAControlPlaneStatus) (metav1.Condition, quorum.Result, quorum.Analysis) {
	members, addr, source := quorumMembers(o)
	res := quorum.Evaluate(members)
	opts := quorum.Options{}
	if vg := o.vipGroup; vg != nil {
		opts = quorum.Options{HasVIPGroup: true, QuorumAware: vg.Spec.HealthCheck.Mode != hacpv1.HealthCheckWeighted}
		if len(vg.Spec.VirtualIPs) > 0 {
			opts.VIP = vg.Spec.VirtualIPs[0]
		}
	}
	an := quorum.WhatIf(members, opts, maxWhatIf)
	problemText := memberStatuses(o, members, addr, res, st)
	st.Quorum = &hacpv1.QuorumStatus{Voters: int32(res.Voters), Healthy: int32(res.Healthy), Quorum: int32(res.Quorum), FailureTolerance: int32(res.FailureTolerance)}
	st.EtcdSummary = fmt.Sprintf("%d/%d", res.Healthy, res.Voters)
	st.Tolerance = strconv.Itoa(res.FailureTolerance)
	if res.FailureTolerance < 0 {
		st.Tolerance = hacpv1.ToleranceLost
	}
	st.WhatIf = whatIfStatus(an)
	return quorumCondition(gen, o, res, an, source, problemText), res, an
}

// memberStatuses fills status.members and readyMembers, and returns the members' problems.
func memberStatuses(o observed, members []quorum.Member, addr map[string]string, res quorum.Result, st *hacpv1.HAControlPlaneStatus) []string {
	st.Members = nil
	ready, nodes := 0, 0
	problems := map[string]string{}
	var problemText []string
	for _, p := range res.Problems {
		problems[p.Member] = p.Message
		problemText = append(problemText, p.Message)
	}
	for _, m := range members {
		if m.HasNode {
			nodes++
			if memberReady(m, o) {
				ready++
			}
		}
		st.Members = append(st.Members, hacpv1.MemberStatus{
			Name: m.Name, Address: addr[m.Name], NodeReady: m.NodeReady, APIServerReady: m.APIServerReady,
			EtcdMember: m.HasEtcd, EtcdMemberID: m.EtcdID, EtcdHealthy: m.EtcdHealthy, Learner: m.Learner, VIPEligible: m.VIPEligible,
			Problem: problems[m.Name],
		})
	}
	st.ReadyMembers = fmt.Sprintf("%d/%d", ready, nodes)
	return problemText
}

// whatIfStatus is status.whatIf: every single failure, then the smallest sets that break.
func whatIfStatus(an quorum.Analysis) []hacpv1.WhatIfResult {
	var out []hacpv1.WhatIfResult
	add := func(oc quorum.Outcome) {
		if len(out) >= maxWhatIf {
			return
		}
		w := hacpv1.WhatIfResult{Failed: oc.Failed, Survives: oc.Survives, Message: truncate(oc.Message, 1024)}
		for _, b := range oc.Breaks {
			w.Breaks = append(w.Breaks, hacpv1.FailureImpact(b))
		}
		out = append(out, w)
	}
	for _, oc := range an.Singles {
		add(oc)
	}
	for _, oc := range an.Minimal {
		if len(oc.Failed) > 1 {
			add(oc)
		}
	}
	return out
}

// quorumCondition is QuorumHealthy: how many more etcd voters may fail, and why not, from where
// the membership was read (source).
func quorumCondition(gen int64, o observed, res quorum.Result, an quorum.Analysis, source string, problems []string) metav1.Condition {
	c := metav1.Condition{Type: hacpv1.ConditionQuorumHealthy, ObservedGeneration: gen}
	summary := fmt.Sprintf("%d of %d etcd voters healthy, quorum %d (from %s)", res.Healthy, res.Voters, res.Quorum, source)
	switch {
	case res.Voters == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, hacpv1.ReasonNoEtcdMembers, "no etcd members found: neither etcd access nor kubeadm etcd mirror pods"
		if o.etcdErr != nil {
			c.Message = "no etcd members found: etcd unreachable (" + o.etcdErr.Error() + ") and no kubeadm etcd mirror pods"
		}
	case res.FailureTolerance >= 1:
		c.Status, c.Reason = metav1.ConditionTrue, hacpv1.ReasonQuorate
		c.Message = fmt.Sprintf("%s: %d more may fail", summary, res.FailureTolerance)
	case res.FailureTolerance == 0:
		c.Status, c.Reason = metav1.ConditionFalse, hacpv1.ReasonAtRisk
		c.Message = summary + ": one more failure loses quorum"
	default:
		c.Status, c.Reason = metav1.ConditionFalse, hacpv1.ReasonQuorumLost
		c.Message = summary + ": quorum is lost, the API cannot serve"
	}
	if len(problems) > 0 {
		c.Message += "; " + strings.Join(problems, "; ")
	}
	if o.etcd != nil && len(o.etcd.Alarms) > 0 {
		c.Message += "; etcd alarms: " + strings.Join(o.etcd.Alarms, ", ")
	}
	if an.Note != "" {
		c.Message += "; what-if: " + an.Note
	}
	c.Message = truncate(c.Message, 4096)
	return c
}

// vipCondition mirrors the referenced VIPGroup's readiness.
func vipCondition(gen int64, hcp *hacpv1.HAControlPlane, vg *hacpv1.VIPGroup, vgErr error) metav1.Condition {
	c := metav1.Condition{Type: hacpv1.ConditionVIPReady, ObservedGeneration: gen}
	switch {
	case hcp.Spec.VIPGroupRef == nil:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, hacpv1.ReasonNoVIPGroup, "spec.vipGroupRef is not set: the endpoint's address is not managed by hacp"
	case vgErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNoVIPGroup, fmt.Sprintf("VIPGroup %s/%s: %v", hcp.Namespace, hcp.Spec.VIPGroupRef.Name, vgErr)
	case !endpointServedBy(hcp.Spec.ControlPlaneEndpoint, vg.Spec.VirtualIPs):
		c.Status, c.Reason = metav1.ConditionFalse, hacpv1.ReasonEndpointNotVIP
		c.Message = fmt.Sprintf("spec.controlPlaneEndpoint %s is not on one of VIPGroup %s's virtualIPs (%s): the VIPGroup does not serve the endpoint; point vipGroupRef at the group that holds it, or add the address to its virtualIPs",
			hcp.Spec.ControlPlaneEndpoint, vg.Name, strings.Join(vg.Spec.VirtualIPs, ", "))
	default:
		rc := meta.FindStatusCondition(vg.Status.Conditions, hacpv1.ConditionReady)
		if rc != nil && rc.Status == metav1.ConditionTrue {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, hacpv1.ReasonVIPGroupReady, fmt.Sprintf("VIPGroup %s: %s", vg.Name, rc.Message)
		} else {
			msg := "not reconciled yet"
			if rc != nil {
				msg = rc.Reason + ": " + rc.Message
			}
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonVIPGroupNotReady, fmt.Sprintf("VIPGroup %s: %s", vg.Name, msg)
		}
	}
	return c
}

// endpointServedBy reports whether endpoint's host is one of vips. A DNS name cannot be checked
// here and passes: what it resolves to is the DNS administrator's business.
func endpointServedBy(endpoint string, vips []string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return true
	}
	for _, v := range vips {
		if a, err := netip.ParseAddr(v); err == nil && a == ip.Unmap() {
			return true
		}
	}
	return false
}

// availableCondition: the control plane serves through its endpoint.
func availableCondition(gen int64, res quorum.Result, members []hacpv1.MemberStatus, vipMaster string, vip metav1.Condition, hasVIP bool) metav1.Condition {
	c := metav1.Condition{Type: hacpv1.ConditionAvailable, ObservedGeneration: gen}
	apis := 0
	for _, m := range members {
		if m.APIServerReady {
			apis++
		}
	}
	switch {
	case res.Voters > 0 && res.FailureTolerance < 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNotServing, "etcd has lost quorum"
	case apis == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNotServing, "no control-plane node has a ready API server"
	case hasVIP && vip.Status != metav1.ConditionTrue:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNotServing, "the endpoint's VIP is not ready: "+vip.Message
	default:
		c.Status, c.Reason = metav1.ConditionTrue, hacpv1.ReasonServing
		c.Message = fmt.Sprintf("%d API servers ready, etcd quorate", apis)
		if hasVIP {
			c.Message += ", VIP held by " + vipMaster
		}
	}
	return c
}
