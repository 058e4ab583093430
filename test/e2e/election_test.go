package e2e

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// TestOneMasterPerFailover loses the holder hard, again and again, with the fast profile
// (VRRPv3, 100 ms), and counts the survivors that went MASTER each time, from their keepalived's
// own state changes (the notify FIFO, as the agent logs them): a MASTER that lasted under a
// millisecond counts too, and the samples of who holds the VIP would miss it.
//
// Every backup's master-down timer starts at the same last advertisement and ends after its skew
// time, (256 - priority)/256 of an interval. With neighbouring priorities (200, 199, 198) the two
// backups' timers ended 0.39 ms apart: on the real kubeadm lab both went MASTER 0.36 ms apart and
// both sent gratuitous ARPs, so which node the clients reached depended on whose came last (a
// second move of the VIP, a second cut of every connection, when it was the one that then let go).
// The priority plan spaces bases by keepalived.PriorityStep so that the top backup's advertisement
// reaches the other before its timer ends.
func TestOneMasterPerFailover(t *testing.T) {
	e := NewEnv(t)
	e.CreateVIPGroup(FastProfile, hacpv1.HealthCheckQuorumAware)
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StartAgent(h)
	}
	e.WaitHolder("h1", 60*time.Second)
	const losses = 8
	double := 0
	for i := 1; i <= losses; i++ {
		before := map[string]int{"h2": len(masterEvents(e, "h2")), "h3": len(masterEvents(e, "h3"))}
		e.PowerOff("h1")
		e.WaitHolder("h2", 10*time.Second)
		// Both survivors' timers have ended long before this: whoever went MASTER has said so.
		time.Sleep(time.Second)
		var went []string
		var at []time.Time
		for _, h := range []string{"h2", "h3"} {
			if ev := masterEvents(e, h); len(ev) > before[h] {
				went = append(went, h)
				at = append(at, ev[len(ev)-1])
			}
		}
		switch len(went) {
		case 1:
			t.Logf("loss %d: only %s went MASTER", i, went[0])
		case 2:
			double++
			t.Logf("loss %d: h2 and h3 both went MASTER, %s apart", i, at[1].Sub(at[0]).Abs())
		default:
			t.Fatalf("loss %d: %d survivors went MASTER (%v), want one", i, len(went), went)
		}
		e.Hosts["h1"].RestoreLink()
		e.StartAgent("h1")
		e.WaitHolder("h1", 30*time.Second) // preemption is enabled: h1 takes the VIP back
		// h1's return is an election too: let it settle before the next loss.
		time.Sleep(time.Second)
	}
	// A step of one did it in 6 of 8 losses here. With the plan's step the top backup has 3.9 ms:
	// one late timer on a loaded CI machine is allowed, a habit is not.
	if double > 1 {
		t.Errorf("in %d of %d losses both backups went MASTER: their skew times are too close (keepalived.PriorityStep)", double, losses)
	}
}

// masterEvents are the times at which the agent on host logged its keepalived going MASTER
// (klog's header: "I1201 10:58:57.123456 ...", the year from the clock).
func masterEvents(e *Env, host string) []time.Time {
	var out []time.Time
	sc := bufio.NewScanner(strings.NewReader(e.Hosts[host].agentOut.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"VRRP state changed"`) || !strings.Contains(line, `state="MASTER"`) {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f[0]) < 5 {
			continue
		}
		ts, err := time.ParseInLocation("2006 0102 15:04:05.000000", fmt.Sprintf("%d %s %s", time.Now().Year(), f[0][1:], f[1]), time.Local)
		if err != nil {
			continue
		}
		out = append(out, ts)
	}
	return out
}
