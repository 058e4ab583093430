package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/test/builders"
)

// After h1, the VIP holder, loses power its agent's last report still says MASTER; h2 took over.
// h1's report must not count: Ready is True with h2, and h1 shows UNKNOWN with why.
func TestDeadNodesReportDoesNotCount(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	node := func(name string, ready corev1.ConditionStatus, reason string) corev1.Node {
		return builders.Node(name).Ready(ready, reason, t0).Obj()
	}
	configs := map[string]keepalived.NodeConfig{"h1": {Hash: "a"}, "h2": {Hash: "b"}, "h3": {Hash: "c"}}
	plan := []keepalived.Plan{{Member: keepalived.Member{Name: "h1"}, Priority: 200}, {Member: keepalived.Member{Name: "h2"}, Priority: 150}, {Member: keepalived.Member{Name: "h3"}, Priority: 100}}
	reports := map[string]contract.Report{
		"h1": {State: hacpv1.VRRPStateMaster, ConfigHash: "a", ChangedAt: t0.Add(-time.Hour)},
		"h2": {State: hacpv1.VRRPStateMaster, ConfigHash: "b", ChangedAt: t0.Add(3 * time.Second)},
		"h3": {State: hacpv1.VRRPStateBackup, ConfigHash: "c"},
	}
	for name, tc := range map[string]struct {
		h1         corev1.Node
		status     metav1.ConditionStatus
		reason     string
		master     string
		h1State    hacpv1.VRRPState
		h1Message  string
		conditionS string
	}{
		"h1 still Ready: two MASTER claims": {node("h1", corev1.ConditionTrue, "KubeletReady"), metav1.ConditionFalse, hacpv1.ReasonMultipleMasters, "h2", hacpv1.VRRPStateMaster, "", "2 nodes claim MASTER"},
		"h1 not heard from": {node("h1", corev1.ConditionUnknown, "NodeStatusUnknown"), metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "h2", hacpv1.VRRPStateUnknown,
			"node not heard from (Ready Unknown) since 2026-11-30T12:00:00Z (NodeStatusUnknown): its agent's last report is not counted (it said MASTER)", "2 nodes run the current config; h2 is MASTER; not heard from (node not Ready, reports not counted): h1"},
		"h1 NotReady": {node("h1", corev1.ConditionFalse, "KubeletNotReady"), metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "h2", hacpv1.VRRPStateUnknown,
			"node NotReady since 2026-11-30T12:00:00Z (KubeletNotReady)", "h2 is MASTER"},
	} {
		t.Run(name, func(t *testing.T) {
			unheard := unheardNodes([]corev1.Node{tc.h1, node("h2", corev1.ConditionTrue, "KubeletReady"), node("h3", corev1.ConditionTrue, "KubeletReady")})
			nodes := nodeStatuses(plan, configs, reports, unheard, nil)
			c, master := readyCondition(4, nodes, configs, reports, unheard)
			if c.Status != tc.status || c.Reason != tc.reason || master != tc.master || !strings.Contains(c.Message, tc.conditionS) {
				t.Fatalf("Ready %s %s %q, master %q; want %s %s ...%s..., %q", c.Status, c.Reason, c.Message, master, tc.status, tc.reason, tc.conditionS, tc.master)
			}
			if nodes[0].State != tc.h1State || !strings.Contains(nodes[0].Message, tc.h1Message) {
				t.Fatalf("h1: %s %q; want %s ...%s...", nodes[0].State, nodes[0].Message, tc.h1State, tc.h1Message)
			}
		})
	}
}
