package keepalived

import (
	"cmp"
	"fmt"
	"slices"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// The priority plan.
//
// keepalived elects the instance with the highest effective priority, where effective = base +
// the weights of its tracked scripts (a negative weight applies while the script fails), clamped
// to 1..254; ties go to the higher primary IP; an instance in FAULT (a failing script of weight 0)
// takes no part. The plan must guarantee: while one member passes its check, no failing member wins.
//
// Bases descend by PriorityStep from TopPriority in member order. In Weighted mode a failing member
// loses FailWeight, which is larger than any spread of bases the plan allows
// ((MaxMembers-1) x PriorityStep), so every failing member sits strictly below every passing one: no
// tie, so the IP tie-break never decides. The weight does not depend on the number of members, so a
// member joining changes no existing member's priority or weight. In QuorumAware mode the weight is
// 0: a failing member is in FAULT.
//
// Why a step and not one: when the master is lost, every backup's master-down timer runs from the
// same last advertisement and ends after 3 intervals plus its skew time, (256 - priority)/256 of an
// interval. Neighbouring priorities end 1/256 of an interval apart, 0.39 ms with 100 ms adverts; on
// the real kubeadm lab both backups went MASTER 0.36 ms apart and both sent gratuitous ARPs, so the
// VIP could move twice. With the step the top backup has PriorityStep/256 of an interval (3.9 ms at
// 100 ms, 39 ms at 1 s) to reach the others with its advertisement. The cost is the top backup's own
// skew: 190 instead of 199 adds 9/256 of an interval to a failover (3.5 ms, 35 ms).
//
// The seed used 100/99 and weight -2, which holds for two members only: a third member at 98 ties
// a failing 100 and loses the tie to a higher IP (plan_test.go shows it).
const (
	TopPriority  = 200
	PriorityStep = 10
	FailWeight   = 100
	// MaxMembers keeps the spread below FailWeight: ten members, more than any control plane
	// (etcd's own advice is 3, 5 or 7 members).
	MaxMembers = 10
)

// Plan is one member's place in the election.
type Plan struct {
	Member   Member
	Priority int
}

// OrderMembers returns the members in plan order: static members in spec order first (the seed node
// is usually one, and keeps the top priority through bootstrap), then the rest by name.
func OrderMembers(spec hacpv1.VIPGroupSpec, members []Member) []Member {
	staticRank := map[string]int{}
	for i, s := range spec.StaticMembers {
		staticRank[s.Name] = i
	}
	out := slices.Clone(members)
	slices.SortStableFunc(out, func(a, b Member) int {
		ra, aok := staticRank[a.Name]
		rb, bok := staticRank[b.Name]
		switch {
		case aok && bok:
			return cmp.Compare(ra, rb)
		case aok:
			return -1
		case bok:
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// PriorityPlan assigns base priorities in plan order.
func PriorityPlan(spec hacpv1.VIPGroupSpec, members []Member) ([]Plan, error) {
	if len(members) > MaxMembers {
		return nil, fmt.Errorf("%d members exceed the %d the priority plan can keep safe", len(members), MaxMembers)
	}
	ordered := OrderMembers(spec, members)
	out := make([]Plan, len(ordered))
	for i, m := range ordered {
		out[i] = Plan{Member: m, Priority: TopPriority - i*PriorityStep}
	}
	return out, nil
}

// ScriptWeight is the weight of the API server check for a mode: negative (lose the election) in
// Weighted mode, 0 (FAULT) in QuorumAware mode.
func ScriptWeight(mode hacpv1.HealthCheckMode) int {
	if mode == hacpv1.HealthCheckWeighted {
		return -FailWeight
	}
	return 0
}
