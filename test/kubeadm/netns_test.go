package kubeadm

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestNetnsAddrs: the in-process address lookup VIPHolders uses sees what a namespace carries, any
// prefix length, and leaves the caller in the machine's namespace. Root only (it makes a namespace).
func TestNetnsAddrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	ns := fmt.Sprintf("hacp-nstest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	// 203.0.113.0/24 is a documentation range; nothing leaves the namespace (no link but lo).
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "203.0.113.250/32", "dev", "lo"},
		{"addr", "add", "203.0.113.251/31", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}

	for range 50 { // many calls: a thread left behind in the namespace would show below
		got, err := netnsAddrs(ns, "lo")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"127.0.0.1", "203.0.113.250", "203.0.113.251"} {
			if !slices.Contains(got, netip.MustParseAddr(want)) {
				t.Fatalf("addresses on lo in %s: %v, want %s among them", ns, got, want)
			}
		}
	}
	host, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range host {
		if p, ok := a.(*net.IPNet); ok && (p.IP.String() == "203.0.113.250" || p.IP.String() == "203.0.113.251") {
			t.Fatalf("the machine's namespace shows %s: a lookup did not come back", p.IP)
		}
	}

	if _, err := netnsAddrs(ns, "eth0"); err == nil {
		t.Error("an interface the namespace lacks: want an error")
	}
	if _, err := netnsAddrs(ns+"-absent", "lo"); err == nil {
		t.Error("a namespace that does not exist: want an error")
	}
}
