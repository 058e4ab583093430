package quorum

import (
	"fmt"
	"sort"
	"time"
)

// Quorum is the number of voters a cluster of voters members needs to agree.
func Quorum(voters int) int { return voters/2 + 1 }

// RemovalCandidate is an etcd member as the dead-member removal decision sees it.
type RemovalCandidate struct {
	ID   string
	Name string
	// Learner members do not vote; one may be on its way to promotion.
	Learner bool
	// Started is false for a member added but never started (no name yet): a join in progress.
	Started bool
	Healthy bool
	// NodeExists is true while a control-plane Node of the member's name exists: nobody has
	// declared the machine gone.
	NodeExists bool
	// UnreachableFor is how long the member has been seen unhealthy without a break.
	UnreachableFor time.Duration
}

// Verdict is the decision on one unhealthy member.
type Verdict struct {
	ID, Name string
	Remove   bool
	Reason   string
}

// DecideRemoval picks at most one dead member to remove. A member goes only when all hold: it is a
// started voter; its control-plane Node has been deleted; it has been unreachable for at least
// grace; the cluster has quorum now (etcd cannot remove without it) and the healthy voters are a
// quorum of the membership without it. Among several, the one unreachable longest goes first; the
// others wait for the next decision, so membership changes one member at a time. Healthy members
// get no verdict.
func DecideRemoval(members []RemovalCandidate, grace time.Duration) []Verdict {
	voters, healthy := 0, 0
	for _, m := range members {
		if !m.Learner {
			voters++
			if m.Healthy {
				healthy++
			}
		}
	}
	var out []Verdict
	var eligible []int
	for _, m := range members {
		if m.Healthy {
			continue
		}
		v := Verdict{ID: m.ID, Name: m.Name}
		switch {
		case m.Learner:
			v.Reason = "a learner (it may be being promoted): never removed"
		case !m.Started:
			v.Reason = "never started: a join may be in progress"
		case m.NodeExists:
			v.Reason = fmt.Sprintf("its Node %s still exists: delete the Node to declare the machine gone", m.Name)
		case m.UnreachableFor < grace:
			v.Reason = fmt.Sprintf("unreachable for %s, less than the grace period %s", m.UnreachableFor.Round(time.Second), grace)
		case healthy < Quorum(voters):
			v.Reason = fmt.Sprintf("the cluster has no quorum (%d of %d voters healthy): etcd cannot remove a member now", healthy, voters)
		case healthy < Quorum(voters-1):
			v.Reason = fmt.Sprintf("removing it would leave %d healthy of %d voters, below quorum", healthy, voters-1)
		default:
			eligible = append(eligible, len(out))
			v.Remove = true
			v.Reason = fmt.Sprintf("Node deleted and unreachable for %s: remove; %d voters remain, quorum %d",
				m.UnreachableFor.Round(time.Second), voters-1, Quorum(voters-1))
		}
		out = append(out, v)
	}
	if len(eligible) > 1 {
		byID := map[string]RemovalCandidate{}
		for _, m := range members {
			byID[m.ID] = m
		}
		sort.SliceStable(eligible, func(i, j int) bool {
			a, b := byID[out[eligible[i]].ID], byID[out[eligible[j]].ID]
			if a.UnreachableFor != b.UnreachableFor {
				return a.UnreachableFor > b.UnreachableFor
			}
			return a.ID < b.ID
		})
		first := out[eligible[0]]
		for _, i := range eligible[1:] {
			out[i].Remove = false
			out[i].Reason = fmt.Sprintf("waiting: one member at a time, %s goes first", first.Name)
		}
	}
	return out
}
