package agent

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHandover measures how long the VIP is absent from the first node while the DaemonSet's
// keepalived takes over from the bootstrap one, sampling every 5 ms: hacp's handover (bootstrap
// VIP as /31 without prefix route) against the naive one (bootstrap VIP as /32, like any other
// config), alternating in one run, HACP_HANDOVER_RUNS (default 5) handovers each. Run it with
// `make bench-handover` (-benchtime 1x: the runs are counted here, not by b.N).
func BenchmarkHandover(b *testing.B) {
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("HACP_HANDOVER_RUNS")); err == nil && v > 0 {
		runs = v
	}
	l := newHandoverLab(b)
	l.quiet = true
	modes := []struct {
		name       string
		hostPrefix bool
	}{{"hacp (/31 bootstrap entry)", false}, {"naive (/32 bootstrap entry)", true}}
	gaps := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		for _, m := range modes {
			sock := fmt.Sprintf("%s-%d-%v", socketName(b), i, m.hostPrefix)
			b, stopAll := subTB(b)
			_, srv := l.bootstrap(b, sock, m.hostPrefix)
			stop := l.watch(l.h1)
			d, _ := l.daemonSet(b, sock, l.m1, l.m2)
			waitFor(b, "the handover", 20*time.Second, func() bool { return srv.Retired() && d.rec.last().State == "MASTER" })
			time.Sleep(500 * time.Millisecond)
			longest, _ := stop()
			gaps[m.name] = append(gaps[m.name], longest)
			stopAll()
		}
	}
	fmt.Fprintf(os.Stdout, "\n%-30s %5s %12s %12s %12s\n", "bootstrap VIP entry", "runs", "best gap", "median gap", "worst gap")
	for _, m := range modes {
		g := append([]time.Duration(nil), gaps[m.name]...)
		sort.Slice(g, func(i, j int) bool { return g[i] < g[j] })
		fmt.Fprintf(os.Stdout, "%-30s %5d %12s %12s %12s\n", m.name, len(g),
			g[0].Round(time.Millisecond), g[len(g)/2].Round(time.Millisecond), g[len(g)-1].Round(time.Millisecond))
	}
	fmt.Fprintln(os.Stdout, "(gap: longest time the VIP was absent from the node, sampled every 5 ms; 0s means never seen absent)")
}

// scopedTB runs cleanups registered during one handover at its end instead of the benchmark's.
type scopedTB struct {
	testing.TB
	cleanups []func()
}

func (s *scopedTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scopedTB) TempDir() string {
	dir, err := os.MkdirTemp("", "hacp-bench")
	if err != nil {
		s.Fatal(err)
	}
	s.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func subTB(tb testing.TB) (testing.TB, func()) {
	s := &scopedTB{TB: tb}
	return s, func() {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
	}
}
