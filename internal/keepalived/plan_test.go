package keepalived

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// candidate is one keepalived instance as the election sees it.
type candidate struct {
	name    string
	ip      netip.Addr
	base    int
	weight  int // weight of the tracked script; 0 means a failure is FAULT
	failing bool
}

// elect models keepalived's VRRP election among instances that all hear each other: effective
// priority = base + weight while the script fails (weight < 0), clamped to 1..254; an instance
// whose weight-0 script fails is in FAULT and does not take part; the highest effective priority
// wins and ties go to the higher primary IP address. It returns -1 when no one can be master.
func elect(cs []candidate) int {
	best := -1
	bestPrio := 0
	for i, c := range cs {
		prio := c.base
		if c.failing {
			if c.weight == 0 {
				continue // FAULT
			}
			prio += c.weight
		}
		prio = max(1, min(254, prio))
		if best < 0 || prio > bestPrio || (prio == bestPrio && c.ip.Compare(cs[best].ip) > 0) {
			best, bestPrio = i, prio
		}
	}
	return best
}

// memberIPs returns n addresses in an order that makes the IP tie-break as hostile as possible:
// the lowest-priority member gets the highest address.
func memberIPs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(200 - i)})
	}
	return out
}

func TestElectionIsSafeForEveryFailureSet(t *testing.T) {
	for _, mode := range []hacpv1.HealthCheckMode{hacpv1.HealthCheckWeighted, hacpv1.HealthCheckQuorumAware} {
		for n := 1; n <= MaxMembers; n++ {
			t.Run(fmt.Sprintf("%s/%d-members", mode, n), func(t *testing.T) {
				ips := memberIPs(n)
				members := make([]Member, n)
				for i := range members {
					// Names sort in reverse address order, so the plan's first member has the
					// lowest address: ties, if any existed, would go against it.
					members[i] = Member{Name: fmt.Sprintf("m%d", n-i), Addresses: []netip.Addr{ips[i]}}
				}
				plan, err := PriorityPlan(hacpv1.VIPGroupSpec{}, members)
				if err != nil {
					t.Fatal(err)
				}
				for failing := 0; failing < 1<<n; failing++ {
					cs := make([]candidate, n)
					for i, p := range plan {
						cs[i] = candidate{name: p.Member.Name, ip: p.Member.Addresses[0], base: p.Priority, weight: ScriptWeight(mode), failing: failing&(1<<i) != 0}
					}
					w := elect(cs)
					allFail := failing == 1<<n-1
					switch {
					case !allFail && (w < 0 || cs[w].failing):
						t.Fatalf("failing set %0*b: elected %v although a member passes (%+v)", n, failing, winnerName(cs, w), cs)
					case allFail && mode == hacpv1.HealthCheckQuorumAware && w >= 0:
						t.Fatalf("all failing in QuorumAware mode: %s holds the VIP", cs[w].name)
					case allFail && mode == hacpv1.HealthCheckWeighted && w < 0:
						t.Fatalf("all failing in Weighted mode: the VIP must still be held somewhere")
					}
				}
			})
		}
	}
}

func winnerName(cs []candidate, w int) string {
	if w < 0 {
		return "nobody"
	}
	return cs[w].name
}

// The seed's hand-written plan: h1 100, h2 99, script weight -2.
func seedCandidates(failing map[string]bool, third bool) []candidate {
	cs := []candidate{
		{name: "h1", ip: netip.MustParseAddr("192.168.1.12"), base: 100, weight: -2},
		{name: "h2", ip: netip.MustParseAddr("192.168.1.10"), base: 99, weight: -2},
	}
	if third {
		cs = append(cs, candidate{name: "h3", ip: netip.MustParseAddr("192.168.1.9"), base: 98, weight: -2})
	}
	for i := range cs {
		cs[i].failing = failing[cs[i].name]
	}
	return cs
}

func TestSeedPlanHoldsForTwoMembers(t *testing.T) {
	for _, failing := range []map[string]bool{{}, {"h1": true}, {"h2": true}} {
		cs := seedCandidates(failing, false)
		if w := elect(cs); cs[w].failing {
			t.Errorf("failing %v: %s elected", failing, cs[w].name)
		}
	}
}

func TestSeedPlanBreaksWithAThirdMember(t *testing.T) {
	// h1 and h2 fail their checks; h3 passes. h1 drops 100 -> 98, tying h3's 98, and the tie goes
	// to the higher address: 192.168.1.12 (h1) beats 192.168.1.9 (h3). A failing node holds the VIP.
	cs := seedCandidates(map[string]bool{"h1": true, "h2": true}, true)
	w := elect(cs)
	if cs[w].name != "h1" || !cs[w].failing {
		t.Fatalf("expected the seed's scheme to elect failing h1, got %s", cs[w].name)
	}
	// The same failure set under hacp's plan elects h3.
	members := []Member{
		{Name: "h1", Addresses: []netip.Addr{netip.MustParseAddr("192.168.1.12")}},
		{Name: "h2", Addresses: []netip.Addr{netip.MustParseAddr("192.168.1.10")}},
		{Name: "h3", Addresses: []netip.Addr{netip.MustParseAddr("192.168.1.9")}},
	}
	plan, err := PriorityPlan(hacpv1.VIPGroupSpec{}, members)
	if err != nil {
		t.Fatal(err)
	}
	var ours []candidate
	for _, p := range plan {
		ours = append(ours, candidate{name: p.Member.Name, ip: p.Member.Addresses[0], base: p.Priority, weight: ScriptWeight(hacpv1.HealthCheckWeighted), failing: p.Member.Name != "h3"})
	}
	if w := elect(ours); ours[w].name != "h3" {
		t.Fatalf("hacp's plan elected %s, want h3", ours[w].name)
	}
}

func TestPlanOrderIsStableAndStaticFirst(t *testing.T) {
	spec := hacpv1.VIPGroupSpec{StaticMembers: []hacpv1.StaticMember{{Name: "seed"}, {Name: "aaa"}}}
	members := []Member{{Name: "c"}, {Name: "aaa", Static: true}, {Name: "b"}, {Name: "seed", Static: true}}
	plan, err := PriorityPlan(spec, members)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range plan {
		got = append(got, fmt.Sprintf("%s=%d", p.Member.Name, p.Priority))
	}
	want := "[seed=200 aaa=190 b=180 c=170]"
	if fmt.Sprint(got) != want {
		t.Fatalf("plan %v, want %s", got, want)
	}
	// Adding a member that sorts last changes no one else's priority.
	plan2, _ := PriorityPlan(spec, append(members, Member{Name: "d"}))
	for i := range plan {
		if plan2[i].Priority != plan[i].Priority || plan2[i].Member.Name != plan[i].Member.Name {
			t.Fatalf("adding d changed %s", plan[i].Member.Name)
		}
	}
}

func TestPlanRejectsTooManyMembers(t *testing.T) {
	members := make([]Member, MaxMembers+1)
	for i := range members {
		members[i].Name = fmt.Sprintf("n%03d", i)
	}
	if _, err := PriorityPlan(hacpv1.VIPGroupSpec{}, members); err == nil {
		t.Fatal("want an error above MaxMembers")
	}
	// The bound is what makes the weight safe: the largest spread is below the weight.
	if spread := (MaxMembers - 1) * PriorityStep; spread >= FailWeight || TopPriority-spread-FailWeight < 1 {
		t.Fatal("plan constants no longer guarantee strict separation without clamping")
	}
}

// skewTime is keepalived's skew time for a backup of priority prio: (256 - prio)/256 of the
// advertisement interval (VRRPv3's formula; VRRPv2's is the same in seconds).
func skewTime(prio int, advert time.Duration) time.Duration {
	return advert * time.Duration(256-prio) / 256
}

// When the master is lost, neighbouring backups' master-down timers end PriorityStep/256 of an
// interval apart. With the fastest interval the CRD allows most people will use (100 ms) that is
// the time the top backup's first advertisement has to reach the next one, or both go MASTER.
func TestNeighbouringBackupsTimersApart(t *testing.T) {
	for _, advert := range []time.Duration{100 * time.Millisecond, time.Second} {
		members := make([]Member, MaxMembers)
		for i := range members {
			members[i].Name = fmt.Sprintf("n%02d", i)
		}
		plan, err := PriorityPlan(hacpv1.VIPGroupSpec{}, members)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i+1 < len(plan); i++ {
			gap := skewTime(plan[i+1].Priority, advert) - skewTime(plan[i].Priority, advert)
			if gap < advert/32 { // 3.1 ms at 100 ms; a step of one gave 0.39 ms
				t.Fatalf("advert %s: %s (%d) and %s (%d) end their master-down timers %s apart", advert, plan[i].Member.Name, plan[i].Priority, plan[i+1].Member.Name, plan[i+1].Priority, gap)
			}
		}
	}
}
