package controllers

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"hacp.dev/hacp/internal/contract"
)

// StaleAfter is how long an agent may go without rewriting its report (it does every
// contract.HeartbeatInterval) before the manager stops counting it: its node is down or cut off, or
// the agent stopped. Four missed heartbeats, so a slow API write or two never counts as a loss.
const StaleAfter = 4 * contract.HeartbeatInterval

// heartbeats remembers, per agent Pod, when this manager saw its heartbeat (contract.HeartbeatOf) change. It
// judges by its own clock: nodes' clocks may be skewed, the time between two changes is not.
type heartbeats struct {
	mu   sync.Mutex
	seen map[types.UID]beat
}

type beat struct {
	group types.NamespacedName
	value string
	at    time.Time
}

// observe records the reports of one VIPGroup's agent Pods and returns, per node, when its report
// was last refreshed (absent: the agent writes no heartbeat, an older agent). Pods of the group
// that are gone are forgotten.
func (h *heartbeats) observe(group types.NamespacedName, pods []corev1.Pod, now time.Time) map[string]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[types.UID]beat{}
	}
	out := map[string]time.Time{}
	live := map[types.UID]bool{}
	for i := range pods {
		p := &pods[i]
		v, reportedAt := contract.HeartbeatOf(p.Annotations)
		if v == "" || p.Spec.NodeName == "" {
			continue
		}
		live[p.UID] = true
		b, ok := h.seen[p.UID]
		switch {
		case !ok:
			// First sight (this manager just started or took over): the agent's own time if it
			// is in the past, so that a report that stopped long ago is not fresh again.
			at := now
			if !reportedAt.IsZero() && reportedAt.Before(now) {
				at = reportedAt
			}
			b = beat{group: group, value: v, at: at}
		case b.value != v:
			b.value, b.at = v, now
		}
		h.seen[p.UID] = b
		out[p.Spec.NodeName] = b.at
	}
	for uid, b := range h.seen {
		if b.group == group && !live[uid] {
			delete(h.seen, uid)
		}
	}
	return out
}

// staleReports maps each node whose agent stopped refreshing its report to why, and returns when
// the next fresh report would turn stale (zero if none), so the reconciler looks again then.
func staleReports(refreshed map[string]time.Time, now time.Time) (map[string]string, time.Duration) {
	out := map[string]string{}
	var next time.Duration
	for node, at := range refreshed {
		age := now.Sub(at)
		if age > StaleAfter {
			out[node] = fmt.Sprintf("its agent has not reported for %s (last at %s): the node is down or cut off, or the agent stopped; its last report is not counted",
				age.Round(time.Second), at.UTC().Format(time.RFC3339))
			continue
		}
		if d := StaleAfter - age + 100*time.Millisecond; next == 0 || d < next {
			next = d
		}
	}
	return out, next
}
