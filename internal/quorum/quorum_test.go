package quorum

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// healthy returns n healthy control-plane members h1..hn with etcd, API server and keepalived.
func healthy(n int) []Member {
	out := make([]Member, n)
	for i := range out {
		out[i] = Member{Name: fmt.Sprintf("h%d", i+1), HasNode: true, NodeReady: true, APIServerReady: true,
			HasEtcd: true, EtcdHealthy: true, Keepalived: true, VIPEligible: true}
	}
	return out
}

func TestArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name                                      string
		members                                   []Member
		voters, healthy, quorum, tolerance, probs int
	}{
		{"1 voter", healthy(1), 1, 1, 1, 0, 0},
		{"2 voters", healthy(2), 2, 2, 2, 0, 0},
		{"3 voters", healthy(3), 3, 3, 2, 1, 0},
		{"4 voters", healthy(4), 4, 4, 3, 1, 0},
		{"5 voters", healthy(5), 5, 5, 3, 2, 0},
		{"7 voters", healthy(7), 7, 7, 4, 3, 0},
		{"3 voters, one down", func() []Member { m := healthy(3); m[2].EtcdHealthy = false; return m }(), 3, 2, 2, 0, 0},
		{"3 voters, two down", func() []Member { m := healthy(3); m[1].EtcdHealthy, m[2].EtcdHealthy = false, false; return m }(), 3, 1, 2, -1, 0},
		{"3 voters and a learner", func() []Member {
			m := append(healthy(3), Member{Name: "h4", HasNode: true, HasEtcd: true, Learner: true, EtcdHealthy: true})
			return m
		}(), 3, 3, 2, 1, 0},
		{"stale member raises the quorum", func() []Member {
			return append(healthy(3), Member{Name: "old", HasEtcd: true, EtcdID: "8e9e05c52164694d"})
		}(), 4, 3, 3, 0, 1},
		{"node without member", func() []Member { m := healthy(3); m[2].HasEtcd = false; return m }(), 2, 2, 2, 0, 1},
		{"no etcd at all", []Member{{Name: "h1", HasNode: true}}, 0, 0, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.members)
			if r.Voters != tc.voters || r.Healthy != tc.healthy || r.Quorum != tc.quorum || r.FailureTolerance != tc.tolerance || len(r.Problems) != tc.probs {
				t.Fatalf("got %+v", r)
			}
		})
	}
	r := Evaluate(append(healthy(3), Member{Name: "old", HasEtcd: true, EtcdID: "8e9e05c52164694d"}))
	if !strings.Contains(r.Problems[0].Message, "etcdctl member remove 8e9e05c52164694d") {
		t.Errorf("stale member problem does not say how to fix it: %s", r.Problems[0].Message)
	}
}

// seedCluster is the seed document's cluster: three stacked etcd members, keepalived on h1 and
// h2 only with a TCP check (so not quorum-aware).
func seedCluster() ([]Member, Options) {
	m := healthy(3)
	m[2].Keepalived, m[2].VIPEligible = false, false
	return m, Options{HasVIPGroup: true, QuorumAware: false, VIP: "192.168.1.8"}
}

func hacpCluster() ([]Member, Options) {
	return healthy(3), Options{HasVIPGroup: true, QuorumAware: true, VIP: "192.168.1.8"}
}

func TestSeedQuestions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cluster  func() ([]Member, Options)
		failed   []string
		survives bool
		breaks   []Impact
		message  string
	}{
		{"seed: if h3 fails", seedCluster, []string{"h3"}, true, nil,
			"if h3 fails: the control plane keeps working (etcd keeps 2 of 3 voters, 2 needed; the VIP stays on h1 or h2)"},
		{"seed: if h3 then h2 fail", seedCluster, []string{"h2", "h3"}, false, []Impact{EtcdQuorum, APIServer},
			"if h2 and h3 fail: etcd quorum lost (1 of 3 voters left, 2 needed); the API stops serving (no etcd quorum)"},
		{"seed: if h1 and h2 fail", seedCluster, []string{"h1", "h2"}, false, []Impact{EtcdQuorum, APIServer, VIP},
			"if h1 and h2 fail: etcd quorum lost (1 of 3 voters left, 2 needed); the API stops serving (no etcd quorum); VIP 192.168.1.8 is gone (no keepalived node left)"},
		{"hacp: if h3 fails", hacpCluster, []string{"h3"}, true, nil,
			"if h3 fails: the control plane keeps working (etcd keeps 2 of 3 voters, 2 needed; the VIP stays on h1 or h2)"},
		{"hacp: if h3 then h2 fail", hacpCluster, []string{"h2", "h3"}, false, []Impact{EtcdQuorum, APIServer, VIP},
			"if h2 and h3 fail: etcd quorum lost (1 of 3 voters left, 2 needed); the API stops serving (no etcd quorum); VIP 192.168.1.8 is dropped (keepalived on h1 sees no ready API server)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, opts := tc.cluster()
			o := Assess(m, tc.failed, opts)
			if o.Survives != tc.survives || !slices.Equal(o.Breaks, tc.breaks) {
				t.Errorf("survives=%v breaks=%v, want %v %v", o.Survives, o.Breaks, tc.survives, tc.breaks)
			}
			if o.Message != tc.message {
				t.Errorf("message\n got: %s\nwant: %s", o.Message, tc.message)
			}
		})
	}
}

func TestWhatIfFindsMinimalBreakingSets(t *testing.T) {
	m, opts := seedCluster()
	a := WhatIf(m, opts, 64)
	if len(a.Singles) != 3 {
		t.Fatalf("singles: %+v", a.Singles)
	}
	for _, s := range a.Singles {
		if !s.Survives {
			t.Errorf("single failure %v breaks: %s", s.Failed, s.Message)
		}
	}
	var sets []string
	for _, o := range a.Minimal {
		sets = append(sets, strings.Join(o.Failed, "+"))
	}
	if want := []string{"h1+h2", "h1+h3", "h2+h3"}; !slices.Equal(sets, want) {
		t.Fatalf("minimal breaking sets %v, want %v", sets, want)
	}
	if a.Truncated {
		t.Errorf("3 members must be analysed exhaustively")
	}
}

func TestWhatIfTwoVotersHaveNoTolerance(t *testing.T) {
	a := WhatIf(healthy(2), Options{}, 64)
	for _, s := range a.Singles {
		if s.Survives || !slices.Contains(s.Breaks, EtcdQuorum) {
			t.Errorf("with two voters, losing %v must break quorum: %+v", s.Failed, s)
		}
	}
}

func TestWhatIfAPIServerWithoutEtcdLoss(t *testing.T) {
	// Five voters; API servers run only on h1 and h2 (h3..h5 are etcd-only, external style).
	m := healthy(5)
	for i := 2; i < 5; i++ {
		m[i].APIServerReady = false
	}
	o := Assess(m, []string{"h1", "h2"}, Options{})
	if o.Survives || !slices.Equal(o.Breaks, []Impact{APIServer}) {
		t.Fatalf("%+v", o)
	}
	if !strings.Contains(o.Message, "no ready API server left") {
		t.Errorf("message: %s", o.Message)
	}
}

func TestWhatIfIsBoundedForLargeControlPlanes(t *testing.T) {
	a := WhatIf(healthy(9), Options{HasVIPGroup: true, QuorumAware: true}, 10)
	if !a.Truncated || !strings.Contains(a.Note, "up to 5 nodes") {
		t.Fatalf("truncated=%v note=%q", a.Truncated, a.Note)
	}
	if len(a.Minimal) != 10 || len(a.Minimal[0].Failed) != 5 {
		t.Fatalf("want 10 minimal sets of 5 (quorum 5 of 9), got %d of %d", len(a.Minimal), len(a.Minimal[0].Failed))
	}
	if !strings.Contains(a.Note, "only the first 10") {
		t.Errorf("note does not say sets were cut: %q", a.Note)
	}
}

func TestStaleMemberMakesOneFailureFatal(t *testing.T) {
	// 3 healthy + 1 dead stale member: 4 voters, quorum 3. Losing any one healthy node loses quorum.
	m := append(healthy(3), Member{Name: "old", HasEtcd: true})
	o := Assess(m, []string{"h3"}, Options{})
	if o.Survives {
		t.Fatalf("a stale member must make a single failure fatal: %+v", o)
	}
	if !strings.Contains(o.Message, "2 of 4 voters left, 3 needed") {
		t.Errorf("message: %s", o.Message)
	}
}
