package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// TestMembershipChangesKeepTheVIP: control-plane nodes join one by one (as kubeadm join adds them)
// and leave again, and the VIP holder's keepalived applies each new peer list in place. Found on
// the real kubeadm lab: the first node's lone config advertised by multicast, and the SIGHUP that
// turned it into a unicast one at the first join made keepalived re-create the instance (VIPs
// removed, BACKUP, master-down interval): the VIP was gone for about 3.3 s at every cluster's first
// join, and the joining node could elect itself meanwhile.
func TestMembershipChangesKeepTheVIP(t *testing.T) {
	e := NewEnv(t)
	p := DefaultProfile // 1 s adverts: a re-created instance leaves a gap of 3 s or more
	for _, h := range []string{"h2", "h3"} {
		e.setControlPlane(h, false)
	}
	e.CreateVIPGroup(p, hacpv1.HealthCheckQuorumAware)
	e.StartAgent("h1")
	e.WaitHolder("h1", 60*time.Second)
	e.WaitMaster("h1", 30*time.Second)

	s := e.Sample(10 * time.Millisecond)
	step := func(what string, peersOfH1 ...string) {
		t.Helper()
		e.waitConfig("h1", 30*time.Second, peersOfH1...)
		// Past one master-down interval: a re-created instance would have dropped the VIP by now.
		time.Sleep(p.MasterDown() + time.Second)
		t.Logf("%s: h1's keepalived reloaded with peers %v", what, peersOfH1)
	}
	e.setControlPlane("h2", true)
	e.StartAgent("h2")
	step("h2 joined", "198.51.100.12")
	e.setControlPlane("h3", true)
	e.StartAgent("h3")
	step("h3 joined", "198.51.100.12", "198.51.100.13")
	// Two nodes leave (drained, then no longer control plane): h1 is alone again.
	for _, h := range []string{"h3", "h2"} {
		e.StopAgent(h)
		e.setControlPlane(h, false)
	}
	step("h2 and h3 left", "198.51.100.11")
	samples := s.Stop()

	empty, overlap, other := 0, overlapSamples(samples), 0
	for _, smp := range samples {
		switch {
		case len(smp.Holders) == 0:
			empty++
		case len(smp.Holders) == 1 && smp.Holders[0] != "h1":
			other++
		}
	}
	t.Logf("%d samples every 10 ms: %d with no holder, %d with two, %d with another holder than h1", len(samples), empty, overlap, other)
	if empty > 0 {
		t.Errorf("the VIP was absent in %d samples (at least %s in a row) while nodes joined and left", empty, surelyEmpty(samples))
	}
	if overlap > 0 || other > 0 {
		t.Errorf("the VIP left h1 or had two holders while nodes joined and left (%d, %d samples)", other, overlap)
	}
}

// setControlPlane adds or removes a Node's control-plane label.
func (e *Env) setControlPlane(name string, on bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n corev1.Node
	if err := e.Client.Get(ctx, types.NamespacedName{Name: name}, &n); err != nil {
		e.t.Fatal(err)
	}
	if on {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
	} else {
		delete(n.Labels, "node-role.kubernetes.io/control-plane")
	}
	if err := e.Client.Update(ctx, &n); err != nil {
		e.t.Fatal(err)
	}
}

// waitConfig waits until the config host's keepalived runs (installed by its agent after
// keepalived --config-test) lists exactly these unicast peers.
func (e *Env) waitConfig(host string, timeout time.Duration, peers ...string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(filepath.Join(e.Hosts[host].dir, "keepalived.conf"))
		text := string(b)
		if got := unicastPeers(text); strings.Join(got, ",") == strings.Join(peers, ",") {
			return
		}
		if time.Now().After(deadline) {
			e.Dump()
			e.t.Fatalf("%s's config does not list the peers %v:\n%s", host, peers, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func unicastPeers(text string) []string {
	var peers []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "unicast_peer {":
			in = true
		case in && l == "}":
			return peers
		case in:
			peers = append(peers, l)
		}
	}
	return peers
}

// TestDeletedNodeStopsAdvertising: a control-plane Node deleted from the API while its agent and
// keepalived run (kubectl delete node, a Node recreated under another name). Found by the soak:
// the members are re-rendered without it and drop its advertisements ("not a unicast peer"), but
// its keepalived kept the last config, heard no master, elected itself and held the VIP beside
// the group's master until the Node came back: a split brain with every link up. The agent now
// stops keepalived (SIGTERM, a priority-0 hand-over) when its node's config leaves the Secret.
func TestDeletedNodeStopsAdvertising(t *testing.T) {
	e := NewEnv(t)
	p := DefaultProfile
	e.CreateVIPGroup(p, hacpv1.HealthCheckQuorumAware)
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StartAgent(h)
	}
	e.WaitHolder("h1", 60*time.Second)
	e.WaitMaster("h1", 30*time.Second)

	s := e.Sample(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range []string{"h3", "h1"} { // a backup, then the master
		if err := e.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h}}); err != nil {
			t.Fatal(err)
		}
		// Two master-down intervals: a keepalived left running would have elected itself.
		time.Sleep(2*p.MasterDown() + time.Second)
		t.Logf("Node %s deleted: the VIP is on %v", h, e.Holders())
		if n := servingKeepalived(e.Hosts[h]); n > 0 {
			t.Errorf("keepalived still runs on %s after its Node was deleted", h)
		}
	}
	samples := s.Stop()
	e.WaitHolder("h2", 10*time.Second)
	if n := overlapSamples(samples); n > 0 {
		e.Dump()
		t.Errorf("the VIP had two holders in %d samples after Nodes were deleted", n)
	}
	// kubelet registers them again: they rejoin, and h1 takes the VIP back (preemption).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	e.createNode(ctx2, "h3", "198.51.100.13", true)
	e.createNode(ctx2, "h1", "198.51.100.11", true)
	e.WaitHolder("h1", 60*time.Second)
	e.WaitMaster("h1", 30*time.Second)
	if servingKeepalived(e.Hosts["h3"]) == 0 {
		t.Error("h3's keepalived did not start again when its Node came back")
	}
}

// servingKeepalived counts host's keepalived processes, except --config-test runs.
func servingKeepalived(h *Host) int {
	serving := 0
	for _, pid := range keepalivedPIDs(h) {
		if b, _ := os.ReadFile("/proc/" + pid + "/cmdline"); !strings.Contains(string(b), "--config-test") {
			serving++
		}
	}
	return serving
}
