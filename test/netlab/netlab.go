// Package netlab builds throwaway hosts for tests: each host is a network namespace with an
// eth0 on a bridge that lives in a namespace of its own, so nothing touches the machine's own
// interfaces or routes. Addresses come from 198.51.100.0/24 (TEST-NET-2), which this machine does
// not use (its own network is 192.0.2.0/24). Everything is torn down at test cleanup, also when
// the test fails.
package netlab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Subnet is the only range hosts get addresses from.
var Subnet = netip.MustParsePrefix("198.51.100.0/24")

// Require skips the test unless it can build namespaces (root, iproute2, keepalived); under
// CI=true a missing prerequisite fails instead, because .ci/run installs them.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"ip", "keepalived"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				missing = append(missing, bin)
			}
		}
	}
	if len(missing) == 0 {
		if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
			missing = append(missing, "ip netns ("+strings.TrimSpace(string(out))+")")
		}
	}
	if len(missing) > 0 {
		msg := "network-namespace tests need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (.ci/run installs keepalived and iproute2 and runs as root)")
		}
		t.Skip(msg + ": skipped")
	}
}

// Lab is a set of hosts on one bridge.
type Lab struct {
	t      testing.TB
	prefix string
	bridge string // namespace holding the bridge
	mu     sync.Mutex
	hosts  map[string]*Host
	procs  []*exec.Cmd
}

// Host is one namespace.
type Host struct {
	lab  *Lab
	Name string
	NS   string
	Addr netip.Addr
	port string // the bridge-side veth
}

// New creates an empty lab whose namespaces are named after prefix (keep it short: interface
// names are at most 15 characters).
func New(t testing.TB, prefix string) *Lab {
	t.Helper()
	Require(t)
	l := &Lab{t: t, prefix: fmt.Sprintf("%s%d", prefix, os.Getpid()%100000), hosts: map[string]*Host{}}
	l.bridge = l.prefix + "-br"
	t.Cleanup(l.teardown)
	l.mustRun("ip", "netns", "add", l.bridge)
	l.mustRun("ip", "-n", l.bridge, "link", "add", "br0", "type", "bridge")
	l.mustRun("ip", "-n", l.bridge, "link", "set", "br0", "up")
	l.mustRun("ip", "-n", l.bridge, "link", "set", "lo", "up")
	return l
}

// AddHost creates a host with eth0 holding addr/24 on the bridge.
func (l *Lab) AddHost(name, addr string) *Host {
	l.t.Helper()
	a := netip.MustParseAddr(addr)
	if !Subnet.Contains(a) {
		l.t.Fatalf("netlab: %s is outside %s", a, Subnet)
	}
	h := &Host{lab: l, Name: name, NS: l.prefix + "-" + name, Addr: a, port: "v" + name}
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	l.mustRun("ip", "netns", "add", h.NS)
	l.mustRun("ip", "-n", h.NS, "link", "add", "eth0", "type", "veth", "peer", "name", h.port, "netns", l.bridge)
	l.mustRun("ip", "-n", l.bridge, "link", "set", h.port, "master", "br0")
	l.mustRun("ip", "-n", l.bridge, "link", "set", h.port, "up")
	l.mustRun("ip", "-n", h.NS, "link", "set", "lo", "up")
	l.mustRun("ip", "-n", h.NS, "addr", "add", addr+"/24", "dev", "eth0")
	l.mustRun("ip", "-n", h.NS, "link", "set", "eth0", "up")
	return h
}

// Host returns a host by name.
func (l *Lab) Host(name string) *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[name]
}

// Wrap is the command prefix that runs a program inside the host.
func (h *Host) Wrap() []string { return []string{"ip", "netns", "exec", h.NS} }

// Command returns a command that runs inside the host.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Start runs a long-lived process inside the host; it is killed at cleanup.
func (h *Host) Start(out *bytes.Buffer, name string, args ...string) *exec.Cmd {
	h.lab.t.Helper()
	cmd := h.Command(name, args...)
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		h.lab.t.Fatalf("netlab: starting %s in %s: %v", name, h.Name, err)
	}
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, cmd)
	h.lab.mu.Unlock()
	return cmd
}

// HasAddr reports whether a is configured on the host's eth0 (false when that cannot be told).
func (h *Host) HasAddr(a netip.Addr) bool {
	has, _ := h.LookupAddr(a)
	return has
}

// LookupAddr reports whether a is configured on the host's eth0, or why that cannot be told (a
// sampler must not count a failed `ip` under load as the address being gone).
func (h *Host) LookupAddr(a netip.Addr) (bool, error) {
	entries, err := h.AddrEntries(a)
	return len(entries) > 0, err
}

// AddrEntries lists the entries of a on the host's eth0, whatever their prefix length.
func (h *Host) AddrEntries(a netip.Addr) ([]netip.Prefix, error) {
	out, err := exec.Command("ip", "-n", h.NS, "-o", "addr", "show", "dev", "eth0").Output()
	if err != nil {
		return nil, err
	}
	var entries []netip.Prefix
	for _, f := range strings.Fields(string(out)) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr() == a {
			entries = append(entries, p)
		}
	}
	return entries, nil
}

// AddAddr puts a on eth0 (to simulate a VIP left behind by a crash).
func (h *Host) AddAddr(p string) {
	h.lab.mustRun("ip", "-n", h.NS, "addr", "add", p, "dev", "eth0")
}

// CutLink disconnects the host from the bridge, as pulling its cable would.
func (h *Host) CutLink() { h.lab.mustRun("ip", "-n", h.lab.bridge, "link", "set", h.port, "down") }

// RestoreLink reconnects the host.
func (h *Host) RestoreLink() { h.lab.mustRun("ip", "-n", h.lab.bridge, "link", "set", h.port, "up") }

func (l *Lab) mustRun(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("netlab: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// teardown kills what the lab started (by PID) and deletes its namespaces; deleting a namespace
// removes its veths too.
func (l *Lab) teardown() {
	l.mu.Lock()
	procs := l.procs
	hosts := l.hosts
	l.mu.Unlock()
	for _, p := range procs {
		if p.Process != nil && p.ProcessState == nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}
	for _, h := range hosts {
		// Anything else still running inside (a keepalived whose parent died) goes too.
		if out, err := exec.Command("ip", "netns", "pids", h.NS).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", h.NS).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.bridge).Run()
}
