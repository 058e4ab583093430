//go:build linux

package kubeadm

import (
	"testing"
	"time"
)

// The reused client's disruptions are episodes of unanswered requests; a /readyz 500 is downtime
// but not a cut connection, and failures close together are one disruption.
func TestDowntimeAndDisruptions(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ok := func(ms int) probeResult { return probeResult{at: at(ms), ok: true, answered: true} }
	cut := func(ms int) probeResult { return probeResult{at: at(ms)} }
	notReady := func(ms int) probeResult { return probeResult{at: at(ms), answered: true} }
	for name, tc := range map[string]struct {
		results     []probeResult
		down        time.Duration
		disruptions int
	}{
		"one cut, then answers": {
			[]probeResult{ok(0), cut(100), cut(2100), ok(2800), ok(2820)}, 2800 * time.Millisecond, 1},
		"a cut, a 500 while etcd settles, answers: one disruption": {
			[]probeResult{ok(0), cut(100), ok(900), notReady(950), notReady(970), ok(1000)}, 900 * time.Millisecond, 1},
		"cut, answer, cut again within the gap: one disruption": {
			[]probeResult{cut(100), ok(900), cut(1500), ok(2000)}, 900 * time.Millisecond, 1},
		"the returning node takes the VIP back: a second disruption": {
			[]probeResult{cut(100), ok(900), ok(30000), cut(30100), ok(33000)}, 900 * time.Millisecond, 2},
		"only 500s: downtime, no disruption": {
			[]probeResult{notReady(100), ok(600)}, 600 * time.Millisecond, 0},
	} {
		t.Run(name, func(t *testing.T) {
			down, n := downtimeAndDisruptions(append([]probeResult{ok(-20)}, tc.results...), t0)
			if down != tc.down || n != tc.disruptions {
				t.Fatalf("downtime %s, %d disruptions; want %s, %d", down, n, tc.down, tc.disruptions)
			}
		})
	}
}
