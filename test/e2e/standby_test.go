package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
)

// standbyArgs make an agent keep host h's standby under h's directory, with abstract socket names
// of its own (every process here shares the root network namespace).
func standbyArgs(h *Host, host string) []string {
	return []string{"--vipgroup=vip", "--standby-image=hacp:e2e",
		"--standby-dir=" + filepath.Join(h.dir, "standby"), "--manifests-dir=" + filepath.Join(h.dir, "manifests"),
		"--active-socket=hacp-active-" + host, "--standby-socket=hacp-standby-" + host}
}

// standbyGroup starts a quorum-aware VIPGroup of the default profile on h1-h3, each agent keeping
// its node's standby, and waits until h1 holds the VIP.
func standbyGroup(t *testing.T) (*Env, []string) {
	e := NewEnv(t)
	e.CreateVIPGroup(DefaultProfile, hacpv1.HealthCheckQuorumAware)
	hosts := []string{"h1", "h2", "h3"}
	for _, h := range hosts {
		e.StartAgent(h, standbyArgs(e.Hosts[h], h)...)
	}
	e.WaitHolder("h1", 60*time.Second)
	return e, hosts
}

// startStandby does what kubelet does with the standby manifest the agent wrote on host: it runs
// the manifest's command, with the host folder it mounts, in its own /run/hacp.
func (e *Env) startStandby(t *testing.T, host string) *exec.Cmd {
	h := e.Hosts[host]
	manifest, err := os.ReadFile(filepath.Join(h.dir, "manifests", contract.StandbyManifestName(ns, "vip")))
	if err != nil {
		t.Fatalf("the agent on %s wrote no standby manifest: %v", host, err)
	}
	if !strings.Contains(string(manifest), "- standby") {
		t.Fatalf("%s's standby manifest does not run `hacp-agent standby`:\n%s", host, manifest)
	}
	run := filepath.Join(h.dir, "standby-run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.agentBin, "standby",
		"--config="+filepath.Join(h.dir, "standby", ns+"_vip", "keepalived.conf"),
		"--handover-socket=hacp-standby-"+host, "--active-socket=hacp-active-"+host,
		"--dir="+run, "--fifo="+filepath.Join(run, "keepalived.fifo"), "--keepalived=keepalived", "--wrap="+e.wrap(h, run))
	cmd.Stdout, cmd.Stderr = h.agentOut, h.agentOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		killKeepalived(h)
	})
	return cmd
}

// TestStandby: the node-local standby. While the DaemonSet's agents run, each keeps its node's
// last good config (root-only, the VIPs as /31) and the standby static Pod on the host, and the
// standbys stay idle. A cold boot (every agent and keepalived gone, the VIPs off the interfaces,
// no API for the agents to come back with) brings the VIP back from the standbys alone. When the
// agents return, they take the VIP over from the standbys without it ever being absent.
func TestStandby(t *testing.T) {
	e, hosts := standbyGroup(t)
	for _, h := range hosts {
		conf := filepath.Join(e.Hosts[h].dir, "standby", ns+"_vip", "keepalived.conf")
		fi, err := os.Stat(conf)
		if err != nil {
			t.Fatalf("%s: no last good config for the standby: %v", h, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s is %v, want 0600 (root only)", h, conf, fi.Mode().Perm())
		}
		text, _ := os.ReadFile(conf)
		if !strings.Contains(string(text), VIP.String()+"/31 dev eth0 noprefixroute") {
			t.Errorf("%s: the standby config does not hold the VIP as /31:\n%s", h, text)
		}
		e.startStandby(t, h)
	}
	time.Sleep(3 * time.Second)
	for _, h := range hosts {
		if n := len(keepalivedPIDs(e.Hosts[h])); n != 2 { // keepalived forks its VRRP process
			t.Errorf("%s: %d keepalived processes while its agent runs, want the agent's only (2)", h, n)
		}
	}

	t.Log("cold boot: every agent and keepalived killed, the VIP gone from the interfaces")
	for _, h := range hosts {
		e.KillAgentHard(h)
		_ = exec.Command("ip", "-n", e.Hosts[h].NS, "addr", "flush", "dev", "eth0", "to", VIP.String()).Run()
	}
	lost := time.Now()
	e.WaitHolder("h1", 30*time.Second)
	t.Logf("the standbys brought the VIP back on h1 %s after the cold boot, with no agent and no API", time.Since(lost).Round(10*time.Millisecond))

	t.Log("the agents return and take the VIP over from the standbys")
	s := e.Sample(10 * time.Millisecond)
	for _, h := range hosts {
		e.StartAgent(h, standbyArgs(e.Hosts[h], h)...)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		idle := 0
		for _, h := range hosts {
			if len(keepalivedPIDs(e.Hosts[h])) == 2 && strings.Count(e.Hosts[h].agentOut.String(), "the standby is idle again") > 0 {
				idle++
			}
		}
		if idle == len(hosts) {
			break
		}
		if time.Now().After(deadline) {
			e.Dump()
			t.Fatalf("the standbys did not all hand over within 60 s (%d did)", idle)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.WaitHolder("h1", 10*time.Second)
	samples := s.Stop()
	empty := 0
	for _, smp := range samples {
		if len(smp.Holders) == 0 {
			empty++
		}
	}
	t.Logf("%d samples during the handover from the standbys: %d without a holder, %d with two", len(samples), empty, overlapSamples(samples))
	if empty > 0 || overlapSamples(samples) > 0 {
		t.Errorf("the handover from the standbys was not clean: %d empty samples, %d with two holders", empty, overlapSamples(samples))
	}
	// The agent's /32, and the standby's /31 left in place by the handover (removed by the agent
	// when its keepalived next lets the VIP go, as after the bootstrap handover).
	bits := map[int]bool{}
	for _, p := range vipEntries(e.Hosts["h1"]) {
		bits[p.Bits()] = true
	}
	if !bits[32] || len(bits) > 2 || (len(bits) == 2 && !bits[31]) {
		t.Errorf("h1's VIP entries after the handover: %v, want the agent's /32 (and the standby's /31)", vipEntries(e.Hosts["h1"]))
	}

	// h1's API server stops being ready: its keepalived goes FAULT, sends a priority-0
	// advertisement and removes its /32, and h2 takes over about 0.2 s later. The standby's /31
	// must be gone by then, or h1 and h2 both hold the VIP (seen on the loaded kubeadm lab, where
	// looking the entry up and deleting it took 0.6 s; now only the delete runs).
	t.Log("h1's API server stops being ready: the VIP moves to h2 and leaves nothing on h1")
	s = e.Sample(10 * time.Millisecond)
	e.Hosts["h1"].SetReady(t, false)
	e.WaitHolder("h2", 30*time.Second)
	time.Sleep(time.Second)
	samples = s.Stop()
	if n := overlapSamples(samples); n > 0 {
		e.Dump()
		t.Errorf("the VIP was on h1 and h2 in %d samples as h1 went FAULT after the handover from its standby", n)
	}
	if left := vipEntries(e.Hosts["h1"]); len(left) > 0 {
		t.Errorf("h1 still holds VIP entries after going FAULT: %v", left)
	}
	e.Hosts["h1"].SetReady(t, true)
}

// TestLeavingNodeTakesItsStandby: a node leaves the group (its control-plane label removed), and
// the DaemonSet deletes its agent Pod (SIGTERM) at about the moment the manager renders the group
// without it. The node's standby must go with it: left behind, it would run keepalived from the
// last config as soon as the agent is gone, and the members, rendered without the node, would drop
// its advertisements ("not a unicast peer"): it would elect itself and hold the VIP beside the
// group's master. When the node is selected again, its agent keeps a standby again.
func TestLeavingNodeTakesItsStandby(t *testing.T) {
	e, hosts := standbyGroup(t)
	for _, h := range hosts {
		e.startStandby(t, h)
	}
	h3 := e.Hosts["h3"]
	manifest := filepath.Join(h3.dir, "manifests", contract.StandbyManifestName(ns, "vip"))
	conf := filepath.Join(h3.dir, "standby", ns+"_vip", "keepalived.conf")

	s := e.Sample(10 * time.Millisecond)
	e.setControlPlane("h3", false)
	e.StopAgent("h3") // the DaemonSet deletes the Pod: kubelet sends SIGTERM
	t.Log("h3 left the group and its agent stopped")
	for _, f := range []string{manifest, conf} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("h3 left the group, but its standby's %s is still there (%v)", f, err)
		}
	}
	// Two master-down intervals: a standby left running would have elected itself by then.
	time.Sleep(2*DefaultProfile.MasterDown() + time.Second)
	if n := servingKeepalived(h3); n > 0 {
		t.Errorf("keepalived runs on h3 after it left the group (%d processes)", n)
	}
	samples := s.Stop()
	if n := overlapSamples(samples); n > 0 {
		e.Dump()
		t.Errorf("the VIP had two holders in %d samples after h3 left the group", n)
	}
	e.WaitHolder("h1", 5*time.Second)

	t.Log("h3 is selected again: its agent keeps a standby again")
	e.setControlPlane("h3", true)
	e.StartAgent("h3", standbyArgs(h3, "h3")...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, errM := os.Stat(manifest)
		_, errC := os.Stat(conf)
		if errM == nil && errC == nil {
			break
		}
		if time.Now().After(deadline) {
			e.Dump()
			t.Fatalf("h3's agent wrote no standby within 60 s of h3 rejoining: %v, %v", errM, errC)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
