package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"hacp.dev/hacp/internal/contract"
)

func agentPod(uid, node, reportedAt string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Spec: corev1.PodSpec{NodeName: node}}
	if reportedAt != "" {
		p.Annotations = map[string]string{contract.AnnotationReportedAt: reportedAt}
	}
	return p
}

// TestHeartbeats: a report counts while its agent keeps rewriting it, judged on the manager's
// clock; one that stopped changing turns stale after StaleAfter, and the reconciler is told when
// to look again.
func TestHeartbeats(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	g := types.NamespacedName{Namespace: "kube-system", Name: "vip"}
	stamp := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	var h heartbeats

	// First sight: the agents' own times when in the past (h3's is 20 s old: a dead node's last
	// words are not fresh again because this manager just started), now when in the future (skew).
	seen := h.observe(g, []corev1.Pod{agentPod("a", "h1", stamp(-time.Second)), agentPod("b", "h2", stamp(time.Minute)),
		agentPod("c", "h3", stamp(-20*time.Second)), agentPod("d", "h4", "")}, t0)
	stale, next := staleReports(seen, t0)
	if len(seen) != 3 || !seen["h1"].Equal(t0.Add(-time.Second)) || !seen["h2"].Equal(t0) {
		t.Fatalf("first sight: %v", seen)
	}
	if _, ok := seen["h4"]; ok {
		t.Error("an agent without heartbeats (an older version) is judged by its Node only")
	}
	if len(stale) != 1 || !strings.Contains(stale["h3"], "has not reported for 20s") {
		t.Errorf("stale = %v, want h3 only", stale)
	}
	if want := StaleAfter - time.Second + 100*time.Millisecond; next != want {
		t.Errorf("look again after %s, want %s (when h1 would turn stale)", next, want)
	}

	// h1 keeps beating, h2 does not change: 8.5 s later h2 (last seen at t0) is stale, h1 is not.
	at := t0.Add(StaleAfter + 500*time.Millisecond)
	seen = h.observe(g, []corev1.Pod{agentPod("a", "h1", stamp(8*time.Second)), agentPod("b", "h2", stamp(time.Minute))}, at)
	stale, _ = staleReports(seen, at)
	if _, ok := stale["h2"]; !ok || len(stale) != 1 {
		t.Errorf("stale = %v, want h2 only", stale)
	}
	if !seen["h1"].Equal(at) {
		t.Errorf("h1 changed its report: refreshed at %s, want %s (the manager's clock)", seen["h1"], at)
	}
	// The Pod of h3 is gone: forgotten, for this group only.
	other := types.NamespacedName{Namespace: "kube-system", Name: "other"}
	h.observe(other, []corev1.Pod{agentPod("z", "h1", stamp(0))}, at)
	if len(h.seen) != 3 {
		t.Errorf("remembered %d pods, want h1 and h2 of vip and h1 of other", len(h.seen))
	}
}
