package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// TestSeedHA runs the seed's HA test and its variants against the fast profile.
func TestSeedHA(t *testing.T) {
	e := NewEnv(t)
	p := FastProfile
	e.CreateVIPGroup(p, hacpv1.HealthCheckQuorumAware)
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StartAgent(h)
	}
	e.WaitHolder("h1", 60*time.Second)
	e.WaitMaster("h1", 30*time.Second)

	t.Run("a: h1 powers off, the VIP moves, h1 returns and takes it back", func(t *testing.T) {
		e := e.In(t)
		e.PowerOff("h1")
		e.WaitHolder("h2", 10*time.Second)
		// The status follows even though h1's agent is gone: h2's agent reports MASTER.
		e.WaitMaster("h2", 30*time.Second)
		e.Hosts["h1"].RestoreLink()
		e.StartAgent("h1")
		e.WaitHolder("h1", 30*time.Second) // preemption is enabled
		e.WaitMaster("h1", 30*time.Second)
	})

	t.Run("b: h1's API server turns unready while its keepalived runs", func(t *testing.T) {
		e := e.In(t)
		e.Hosts["h1"].SetReady(t, false)
		// interval x fall + one master-down interval, with room for a busy CI machine.
		e.WaitHolder("h2", time.Duration(p.CheckInterval*p.Fall)*time.Second+p.MasterDown()+5*time.Second)
		e.WaitMaster("h2", 30*time.Second)
		e.Hosts["h1"].SetReady(t, true)
		e.WaitHolder("h1", 15*time.Second)
		e.WaitMaster("h1", 30*time.Second)
	})

	t.Run("e: draining h1 (SIGTERM to its agent) hands the VIP over without a gap", func(t *testing.T) {
		e := e.In(t)
		s := e.Sample(10 * time.Millisecond)
		e.StopAgent("h1")
		e.WaitHolder("h2", 10*time.Second)
		time.Sleep(200 * time.Millisecond)
		samples := s.Stop()
		gap, sure := longestGap(samples), surelyEmpty(samples)
		t.Logf("longest time with no VIP holder: at most %s, at least %s (advert interval %dms, %d samples)", gap, sure, p.AdvertMilliseconds, len(samples))
		// keepalived's priority-0 advert makes the backup take over at once. Judge the part of
		// the gap that samples prove (first to last empty sample), which a loaded machine's late
		// samples cannot inflate.
		if limit := time.Duration(p.AdvertMilliseconds) * time.Millisecond; sure > limit {
			t.Errorf("the VIP was held by no one for at least %s, longer than one advert interval: the handover was not graceful", sure)
		}
		if overlap := overlapSamples(samples); overlap > 0 {
			t.Errorf("%d samples with two holders during a graceful handover", overlap)
		}
		e.StartAgent("h1")
		e.WaitHolder("h1", 30*time.Second)
	})

	t.Run("d: h4 becomes a control-plane node, joins, and takes the VIP when h1..h3 are gone", func(t *testing.T) {
		e := e.In(t)
		e.MakeControlPlane("h4")
		e.StartAgent("h4") // the DaemonSet schedules an agent on the new control-plane node
		deadline := time.Now().Add(30 * time.Second)
		for {
			cfgs := e.Configs()
			ok := len(cfgs) == 4
			for name, text := range cfgs {
				if name != "h4" && !strings.Contains(string(text), "198.51.100.14\n") {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				e.Dump()
				t.Fatalf("configs do not all list h4: %d configs", len(cfgs))
			}
			time.Sleep(200 * time.Millisecond)
		}
		e.WaitHolder("h1", 10*time.Second)
		for _, h := range []string{"h1", "h2", "h3"} {
			e.PowerOff(h)
		}
		e.WaitHolder("h4", 15*time.Second)
		e.WaitMaster("h4", 30*time.Second)
	})
}

// TestPartition is scenario c: h1 is cut off from h2 and h3 and its API server loses quorum. In
// quorum-aware mode h1 drops the VIP (check interval x fall = 2 s) before h2 takes it (master-down
// 3.2 s with 1 s adverts), so the VIP is never on two hosts. The seed's own config runs through
// the same partition as the contrast.
func TestPartition(t *testing.T) {
	e := NewEnv(t)
	p := DefaultProfile
	e.CreateVIPGroup(p, hacpv1.HealthCheckQuorumAware)
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StartAgent(h)
	}
	e.WaitHolder("h1", 60*time.Second)

	partition := func() []Sample {
		s := e.Sample(50 * time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		e.Hosts["h1"].CutLink()
		e.Hosts["h1"].SetReady(t, false) // without h2 and h3, h1's etcd has no quorum
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && !e.Hosts["h2"].HasVIP() && !e.Hosts["h3"].HasVIP() {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		samples := s.Stop()
		e.Hosts["h1"].RestoreLink()
		e.Hosts["h1"].SetReady(t, true)
		return samples
	}

	samples := partition()
	overlap := overlapSamples(samples)
	t.Logf("hacp quorum-aware, %d samples every 50ms through the partition: %d with two holders, longest gap %s", len(samples), overlap, longestGap(samples))
	if overlap != 0 {
		t.Errorf("the VIP was on two hosts in %d samples", overlap)
	}
	if !e.Hosts["h2"].HasVIP() {
		t.Errorf("h2 does not hold the VIP after the partition")
	}

	// The contrast: the seed's hand-written configs (keepalived on h1 and h2, TCP check,
	// advert_int 3, weight -2) through the same partition.
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StopAgent(h)
	}
	e.WaitHolder("", 15*time.Second)
	startSeedKeepalived(t, e, "h1", "198.51.100.11", "MASTER", 100, "198.51.100.12")
	startSeedKeepalived(t, e, "h2", "198.51.100.12", "BACKUP", 99, "198.51.100.11")
	e.WaitHolder("h1", 30*time.Second)
	samples = partition()
	seedOverlap := overlapSamples(samples)
	t.Logf("the seed's config, same partition: %d of %d samples with two holders (%.1fs)", seedOverlap, len(samples), float64(seedOverlap)*0.05)
	if seedOverlap == 0 {
		t.Errorf("expected the seed's TCP check to keep the VIP on the cut-off h1 while h2 takes it too")
	}
	for _, h := range []string{"h1", "h2"} {
		killKeepalived(e.Hosts[h])
	}
}

// seedConf is the seed document's keepalived.conf, with the addresses of the lab, and
// script_user root added: keepalived 2.2.7 drops a script it has no user for, which would leave
// the seed with no check at all.
var seedConf = template.Must(template.New("seed").Parse(`global_defs {
    router_id LVS_DEVEL
    script_user root
}
vrrp_script check_apiserver {
    script "/bin/bash -c '</dev/tcp/127.0.0.1/6443'"
    interval 1
    weight -2
}
vrrp_instance VI-kube-master {
    state {{.State}}
    interface eth0
    virtual_router_id 68
    priority {{.Priority}}
    dont_track_primary
    advert_int 3
    authentication {
        auth_type PASS
        auth_pass mypass
    }
    unicast_src_ip {{.Self}}
    unicast_peer {
        {{.Peer}}
    }
    virtual_ipaddress {
        {{.VIP}}
    }
    track_script {
        check_apiserver
    }
}
`))

func startSeedKeepalived(t testing.TB, e *Env, host, self, state string, prio int, peer string) {
	t.Helper()
	h := e.Hosts[host]
	var b bytes.Buffer
	if err := seedConf.Execute(&b, map[string]any{"State": state, "Priority": prio, "Self": self, "Peer": peer, "VIP": VIP.String()}); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(h.dir, "seed.conf")
	if err := os.WriteFile(conf, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// A SIGKILLed predecessor is a zombie until the lab reaps it at teardown, and keepalived
	// refuses to start while its pid file names a PID that still exists.
	for _, f := range []string{"seed.pid", "seed-vrrp.pid"} {
		_ = os.Remove(filepath.Join(h.dir, f))
	}
	h.Start(nil, "keepalived", "--dont-fork", "--vrrp", "--use-file="+conf,
		"--pid="+filepath.Join(h.dir, "seed.pid"), "--vrrp_pid="+filepath.Join(h.dir, "seed-vrrp.pid"))
}

func overlapSamples(samples []Sample) int {
	n := 0
	for _, s := range samples {
		if len(s.Holders) > 1 {
			n++
		}
	}
	return n
}

// surelyEmpty is the longest stretch from the first to the last of consecutive empty samples: a
// lower bound of the time nobody held the VIP.
func surelyEmpty(samples []Sample) time.Duration {
	var longest time.Duration
	var first time.Time
	for _, s := range samples {
		if len(s.Holders) == 0 {
			if first.IsZero() {
				first = s.At
			}
			if d := s.At.Sub(first); d > longest {
				longest = d
			}
			continue
		}
		first = time.Time{}
	}
	return longest
}

// longestGap is the longest time from an empty sample to the next non-empty one: an upper bound
// of the time nobody held the VIP.
func longestGap(samples []Sample) time.Duration {
	var longest time.Duration
	var start time.Time
	for _, s := range samples {
		if len(s.Holders) == 0 {
			if start.IsZero() {
				start = s.At
			}
			continue
		}
		if !start.IsZero() {
			if d := s.At.Sub(start); d > longest {
				longest = d
			}
			start = time.Time{}
		}
	}
	return longest
}
