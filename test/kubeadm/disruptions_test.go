//go:build linux

package kubeadm

import (
	"testing"
	"time"
)

// The reused client's disruptions are episodes of requests that got no answer or needed a new
// connection; a /readyz 500 is downtime but not a cut connection, failures close together are one
// disruption, and the downtime ends with the first 200 to a request sent after the cut.
func TestDowntimeAndDisruptions(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ok := func(ms int) probeResult { return probeResult{start: at(ms - 5), at: at(ms), ok: true, answered: true} }
	timedOut := func(ms int) probeResult { return probeResult{start: at(ms - 2000), at: at(ms)} }
	reconnect := func(ms int) probeResult {
		return probeResult{start: at(ms - 5), at: at(ms), ok: true, answered: true, newConn: true}
	}
	notReady := func(ms int) probeResult { return probeResult{start: at(ms - 5), at: at(ms), answered: true} }
	for name, tc := range map[string]struct {
		results     []probeResult
		down        time.Duration
		disruptions int
	}{
		"a request times out at the cut, the next connects to the new holder": {
			[]probeResult{timedOut(2000), reconnect(2030), ok(2050)}, 2030 * time.Millisecond, 1},
		"in flight at the cut, replayed by Go on a new connection: one disruption": {
			[]probeResult{{start: at(-10), at: at(650), ok: true, answered: true, newConn: true}, ok(680)}, 680 * time.Millisecond, 1},
		"answered by the lost node just before the cut: downtime goes on": {
			[]probeResult{{start: at(-5), at: at(3), ok: true, answered: true}, timedOut(2010), reconnect(2100)}, 2100 * time.Millisecond, 1},
		"a cut, 500s while etcd settles, answers: one disruption": {
			[]probeResult{timedOut(1000), notReady(1050), notReady(1100), ok(1200)}, 1200 * time.Millisecond, 1},
		"cut, answers, cut again within the gap: one disruption": {
			[]probeResult{timedOut(1000), reconnect(1050), timedOut(3000), reconnect(3050)}, 1050 * time.Millisecond, 1},
		"the returning node takes the VIP back: a second disruption": {
			[]probeResult{timedOut(1000), reconnect(1050), ok(30000), reconnect(30100)}, 1050 * time.Millisecond, 2},
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

// A VIP move is a sample at which a node that did not hold the VIP before holds it; a gap without
// a holder is not a move, the holder coming back after the gap is not one either.
func TestHolderMoves(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := func(ms int, h ...string) holderChange {
		return holderChange{at: t0.Add(time.Duration(ms) * time.Millisecond), holders: h}
	}
	for name, tc := range map[string]struct {
		changes []holderChange
		moves   int
		line    string
	}{
		"one failover":                  {[]holderChange{c(-900, "h1"), c(400, "h2")}, 1, "+0.40s [h2]"},
		"a gap, then the same holder":   {[]holderChange{c(-900, "h1"), c(300), c(700, "h1")}, 0, "+0.30s [], +0.70s [h1]"},
		"to h2, then h3, then back h2":  {[]holderChange{c(-900, "h1"), c(400, "h2"), c(900, "h2", "h3"), c(1000, "h3"), c(2000, "h2")}, 3, "+0.40s [h2], +0.90s [h2 h3], +1.00s [h3], +2.00s [h2]"},
		"moves before the loss ignored": {[]holderChange{c(-900, "h1"), c(-500, "h2"), c(400, "h3")}, 1, "+0.40s [h3]"},
	} {
		st := holderStats{changes: tc.changes}
		if got := st.moves(t0); got != tc.moves {
			t.Errorf("%s: %d moves, want %d", name, got, tc.moves)
		}
		if got := st.timeline(t0); got != tc.line {
			t.Errorf("%s: timeline %q, want %q", name, got, tc.line)
		}
	}
}

// TestHolderOverlaps: runs of samples with two holders are measured from their first sample to
// the first one after, and only those longer than the bound fail (CI's 1.15 s election overlap
// of 2026-12-01 passes; a split brain that lasts does not).
func TestHolderOverlaps(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 11, 32, 0, time.UTC)
	type sample struct {
		ms      int
		holders []string
	}
	s := func(ms int, h ...string) sample { return sample{ms, h} }
	for name, tc := range map[string]struct {
		samples  []sample
		stopMs   int
		overlaps string
		absent   int
		longest  time.Duration
		fails    bool
	}{
		"one holder throughout": {[]sample{s(0, "h1"), s(100, "h1")}, 200, "none", 0, 0, false},
		"an election overlap of 1.15 s": {
			[]sample{s(0, "h1"), s(100), s(200, "h2", "h3"), s(700, "h2", "h3"), s(1350, "h2")}, 1500,
			"03:11:32.200 for 1.15s [h2 h3]", 1, 0, false},
		"two overlaps, one too long": {
			[]sample{s(0, "h1", "h2"), s(500, "h1"), s(600, "h1", "h3"), s(2700, "h3")}, 2800,
			"03:11:32.000 for 500ms [h1 h2], 03:11:32.600 for 2.1s [h1 h3]", 0, 0, true},
		"an overlap still open at the stop": {
			[]sample{s(0, "h1"), s(100, "h1", "h2"), s(2000, "h1", "h2")}, 2200,
			"03:11:32.100 for 2.1s [h1 h2]", 0, 0, true},
		"an absence": {[]sample{s(0, "h1"), s(100), s(400), s(500, "h2"), s(600)}, 700, "none", 3, 300 * time.Millisecond, false},
	} {
		var st holderStats
		for _, x := range tc.samples {
			st.record(t0.Add(time.Duration(x.ms)*time.Millisecond), x.holders)
		}
		st.finish(t0.Add(time.Duration(tc.stopMs) * time.Millisecond))
		if got := st.overlapList(); got != tc.overlaps {
			t.Errorf("%s: overlaps %q, want %q", name, got, tc.overlaps)
		}
		if st.absent != tc.absent || st.longestAbsent != tc.longest {
			t.Errorf("%s: absent in %d samples, longest %s; want %d, %s", name, st.absent, st.longestAbsent, tc.absent, tc.longest)
		}
		if err := st.overlapErr("test", electionOverlap); (err != nil) != tc.fails {
			t.Errorf("%s: overlapErr = %v, want failure %v", name, err, tc.fails)
		}
	}
}
