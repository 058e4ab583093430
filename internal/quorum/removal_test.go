package quorum

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDecideRemovalEveryCombination runs one unhealthy member through every combination of its
// own facts, in clusters of 1 to 7 voters with every number of other healthy voters, and checks
// the rule and the safety property: a removal always leaves a quorum of healthy voters.
func TestDecideRemovalEveryCombination(t *testing.T) {
	const grace = 10 * time.Minute
	for voters := 1; voters <= 7; voters++ {
		for otherHealthy := 0; otherHealthy < voters; otherHealthy++ {
			for mask := 0; mask < 16; mask++ {
				learner, started, nodeExists, longEnough := mask&1 != 0, mask&2 != 0, mask&4 != 0, mask&8 != 0
				dead := RemovalCandidate{ID: "dead", Name: "h9", Learner: learner, Started: started, NodeExists: nodeExists, UnreachableFor: grace - time.Second}
				if longEnough {
					dead.UnreachableFor = grace
				}
				members := []RemovalCandidate{dead}
				otherVoters := voters - 1
				if learner {
					otherVoters = voters // the dead learner is not one of the voters
				}
				for i := 0; i < otherVoters; i++ {
					members = append(members, RemovalCandidate{ID: fmt.Sprintf("m%d", i), Name: fmt.Sprintf("h%d", i), Started: true, Healthy: i < otherHealthy, NodeExists: true})
				}
				vs := DecideRemoval(members, grace)
				var got *Verdict
				removals := 0
				for i := range vs {
					if vs[i].ID == "dead" {
						got = &vs[i]
					}
					if vs[i].Remove {
						removals++
					}
				}
				name := fmt.Sprintf("voters=%d otherHealthy=%d learner=%v started=%v nodeExists=%v longEnough=%v", voters, otherHealthy, learner, started, nodeExists, longEnough)
				if got == nil {
					t.Fatalf("%s: no verdict for the dead member", name)
				}
				if removals > 1 {
					t.Errorf("%s: %d removals at once", name, removals)
				}
				totalVoters, healthy := 0, 0
				for _, m := range members {
					if !m.Learner {
						totalVoters++
						if m.Healthy {
							healthy++
						}
					}
				}
				want := !learner && started && !nodeExists && longEnough && healthy >= Quorum(totalVoters)
				if got.Remove != want {
					t.Errorf("%s: remove=%v (%s), want %v", name, got.Remove, got.Reason, want)
				}
				if got.Remove && healthy < Quorum(totalVoters-1) {
					t.Errorf("%s: the removal leaves %d healthy of %d voters", name, healthy, totalVoters-1)
				}
				if got.Reason == "" {
					t.Errorf("%s: a verdict without a reason", name)
				}
			}
		}
	}
}

func TestDecideRemoval(t *testing.T) {
	grace := time.Minute
	healthy := func(n string) RemovalCandidate {
		return RemovalCandidate{ID: "id-" + n, Name: n, Started: true, Healthy: true, NodeExists: true}
	}
	gone := func(n string, for_ time.Duration) RemovalCandidate {
		return RemovalCandidate{ID: "id-" + n, Name: n, Started: true, UnreachableFor: for_}
	}
	for _, tc := range []struct {
		name    string
		members []RemovalCandidate
		want    map[string]string // name -> "remove" or a reason fragment
	}{
		{"the seed's h3 replaced: removed", []RemovalCandidate{healthy("h1"), healthy("h2"), gone("h3", 2*time.Minute)},
			map[string]string{"h3": "remove; 2 voters remain, quorum 2"}},
		{"too soon", []RemovalCandidate{healthy("h1"), healthy("h2"), gone("h3", 30*time.Second)},
			map[string]string{"h3": "less than the grace period 1m0s"}},
		{"two gone of five: the longer first", []RemovalCandidate{healthy("h1"), healthy("h2"), healthy("h3"), gone("h4", 5*time.Minute), gone("h5", 9*time.Minute)},
			map[string]string{"h5": "remove; 4 voters remain, quorum 3", "h4": "waiting: one member at a time, h5 goes first"}},
		{"two gone of three: no quorum", []RemovalCandidate{healthy("h1"), gone("h2", time.Hour), gone("h3", time.Hour)},
			map[string]string{"h2": "no quorum", "h3": "no quorum"}},
		{"one gone of two: no quorum", []RemovalCandidate{healthy("h1"), gone("h2", time.Hour)},
			map[string]string{"h2": "no quorum (1 of 2 voters healthy)"}},
		{"Node still there", []RemovalCandidate{healthy("h1"), healthy("h2"), {ID: "id-h3", Name: "h3", Started: true, NodeExists: true, UnreachableFor: time.Hour}},
			map[string]string{"h3": "its Node h3 still exists"}},
		{"a learner", []RemovalCandidate{healthy("h1"), healthy("h2"), healthy("h3"), {ID: "id-l", Name: "l", Started: true, Learner: true, UnreachableFor: time.Hour}},
			map[string]string{"l": "a learner"}},
		{"never started", []RemovalCandidate{healthy("h1"), healthy("h2"), healthy("h3"), {ID: "id-n", UnreachableFor: time.Hour}},
			map[string]string{"": "never started"}},
		{"all healthy: nothing to say", []RemovalCandidate{healthy("h1"), healthy("h2"), healthy("h3")}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := DecideRemoval(tc.members, grace)
			if len(vs) != len(tc.want) {
				t.Fatalf("%d verdicts, want %d: %+v", len(vs), len(tc.want), vs)
			}
			for _, v := range vs {
				w, ok := tc.want[v.Name]
				if !ok {
					t.Errorf("unexpected verdict %+v", v)
					continue
				}
				if strings.HasPrefix(w, "remove") != v.Remove || !strings.Contains(v.Reason, w) {
					t.Errorf("%s: remove=%v %q, want %q", v.Name, v.Remove, v.Reason, w)
				}
			}
		})
	}
}
