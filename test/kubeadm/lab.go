//go:build linux

// Package kubeadm runs real kubeadm nodes on one machine: each node is a network namespace on a
// bridge that lives in a hub namespace of its own, with its own mount and UTS namespace, its own
// containerd and a kubelet that restarts like kubeadm's systemd unit would. Every image a node runs is
// built locally and imported, never pulled. Nothing touches the machine's own interfaces, routes or
// /var/lib: node state lives under one temporary folder per run, bind-mounted over the places kubeadm,
// kubelet and containerd use, inside the node's mount namespace only. Close leaves the machine as it
// was found (processes by PID and cgroup, namespaces, cgroups, sysctls, folders).
//
// Addresses: nodes in 198.51.100.0/24 (the hub's bridge has .1), Pods in 203.0.113.0/25 (one /27 per
// node), Services in 203.0.113.128/25. No namespace the lab makes has a default route, and every node
// has its own /etc/hosts and /etc/resolv.conf, so no packet can leave the lab.
package kubeadm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"hacp.dev/hacp/test/netlab"
)

var (
	// NodeSubnet holds the nodes' and the VIP's addresses.
	NodeSubnet = netip.MustParsePrefix("198.51.100.0/24")
	// HubAddr is the hub bridge's own address: where the lab's clients dial from.
	HubAddr = netip.MustParseAddr("198.51.100.1")
	// PodSubnet is split in one /27 per node.
	PodSubnet = netip.MustParsePrefix("203.0.113.0/25")
	// ServiceSubnet is kubeadm's serviceSubnet; the kubernetes Service gets its first address.
	ServiceSubnet = netip.MustParsePrefix("203.0.113.128/25")
)

// kubeletSysctls are the host-wide settings kubelet changes at start; the lab puts them back.
var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// hostMountpoints are folders that must exist on the machine to be mount targets inside a node; the
// ones the lab had to create are removed again at Close (they stay empty on the machine).
var hostMountpoints = []string{"/etc/kubernetes", "/var/lib/kubelet", "/var/lib/etcd", "/var/lib/cni",
	"/usr/libexec/kubernetes", "/etc/hacp"}

// Options configures a Lab.
type Options struct {
	// Assets is the folder hack/lab-assets.sh prints.
	Assets string
	// Repo is the root of the hacp clone (for hack/ocibuild and the pause source).
	Repo string
	// Root is where the run's state goes; empty means a new folder under /var/tmp.
	Root string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Lab is one run: a hub namespace, its nodes and everything to undo.
type Lab struct {
	Options
	// ID prefixes every namespace, interface and cgroup name of this run.
	ID string
	// Images are the image tarballs every node imports.
	Images []string

	hub   string
	mu    sync.Mutex
	nodes []*Node
	undo  []func() error
	saved map[string]string
	proxy net.Listener
}

// New creates the hub namespace and the run's folder. Close undoes everything, also after a failure.
func New(opts Options) (*Lab, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	l := &Lab{Options: opts, ID: fmt.Sprintf("kl%d", os.Getpid()%100000), saved: map[string]string{}}
	l.hub = l.ID + "-hub"
	ok := false
	defer func() {
		if !ok {
			_ = l.Close()
		}
	}()
	if l.Root == "" {
		root, err := os.MkdirTemp("/var/tmp", "hacp-kubeadm-lab-")
		if err != nil {
			return nil, err
		}
		l.Root = root
		l.onClose(func() error { return os.RemoveAll(root) })
	}
	for _, key := range kubeletSysctls {
		b, err := os.ReadFile("/proc/sys/" + key)
		if err != nil {
			return nil, err
		}
		l.saved[key] = strings.TrimSpace(string(b))
	}
	l.onClose(l.restoreSysctls)
	for _, dir := range hostMountpoints {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			l.onClose(func() error { return removeEmptyDirs(dir) })
		}
	}
	if err := l.cgroupsCreate(l.ID); err != nil {
		return nil, err
	}
	l.onClose(func() error { return l.cgroupsRemove(l.ID) })
	if err := run("ip", "netns", "add", l.hub); err != nil {
		return nil, err
	}
	l.onClose(func() error { return run("ip", "netns", "delete", l.hub) })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "br0", "up"},
		{"addr", "add", HubAddr.String() + "/24", "dev", "br0"},
	} {
		if err := run("ip", append([]string{"-n", l.hub}, args...)...); err != nil {
			return nil, err
		}
	}
	ok = true
	return l, nil
}

// Nodes returns the nodes added so far.
func (l *Lab) Nodes() []*Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Node(nil), l.nodes...)
}

// Node returns the node called name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (l *Lab) onClose(f func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.undo = append(l.undo, f)
}

// Close stops every node's processes, deletes the namespaces, cgroups and state, and restores the
// sysctls, in the reverse order of their creation. It reports the first error but tries every step.
func (l *Lab) Close() error {
	l.mu.Lock()
	nodes := append([]*Node(nil), l.nodes...)
	l.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if err := n.PowerOff(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	if l.proxy != nil {
		_ = l.proxy.Close()
	}
	for {
		l.mu.Lock()
		if len(l.undo) == 0 {
			l.mu.Unlock()
			break
		}
		f := l.undo[len(l.undo)-1]
		l.undo = l.undo[:len(l.undo)-1]
		l.mu.Unlock()
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Lab) restoreSysctls() error {
	var errs []error
	keys := make([]string, 0, len(l.saved))
	for k := range l.saved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		b, err := os.ReadFile("/proc/sys/" + key)
		if err == nil && strings.TrimSpace(string(b)) == l.saved[key] {
			continue
		}
		l.Logf("restoring sysctl %s = %s (was %s)", key, l.saved[key], strings.TrimSpace(string(b)))
		if err := os.WriteFile("/proc/sys/"+key, []byte(l.saved[key]), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeEmptyDirs removes dir if it is empty (it was created empty by the lab and is a mount target
// only inside nodes; anything found in it means someone else uses it now).
func removeEmptyDirs(dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("leaving %s: %w", dir, err)
	}
	return nil
}

// --- cgroups ---

// cgroupV1Roots lists the mount points of the machine's cgroup v1 hierarchies.
func cgroupV1Roots() ([]string, error) { return cgroupMounts(false) }

// cgroupAllRoots adds the cgroup2 hierarchy of a hybrid machine, where runc creates each container's
// cgroup too: the lab cleans it but has nothing to create there.
func cgroupAllRoots() ([]string, error) { return cgroupMounts(true) }

func cgroupMounts(v2 bool) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, line := range strings.Split(string(b), "\n") {
		_, after, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		fstype := strings.Fields(after)[0]
		if (fstype == "cgroup" || v2 && fstype == "cgroup2") && len(fields) > 4 {
			roots = append(roots, fields[4])
		}
	}
	if len(roots) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy is mounted (the lab's kubelets run on cgroup v1)")
	}
	return roots, nil
}

// cgroupsCreate creates the cgroup path rel in every v1 hierarchy (cpuset's with its parent's cpus
// and mems, which a new cpuset cgroup lacks).
func (l *Lab) cgroupsCreate(rel string) error {
	roots, err := cgroupV1Roots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		dir := filepath.Join(root, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dir, "cpuset.cpus")); err == nil {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// cgroupProcs lists the processes in rel and below in every hierarchy.
func cgroupProcs(rel string) []int {
	roots, _ := cgroupAllRoots()
	seen := map[int]bool{}
	var pids []int
	for _, root := range roots {
		_ = filepath.WalkDir(filepath.Join(root, rel), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// killCgroup kills every process in the cgroups rels and below: all frozen first (no fork can escape,
// and no kubelet or containerd among them can restart a container), SIGKILL, thawed. These are all
// processes the lab started (a node's daemons and the containers they started).
func killCgroup(rels ...string) error {
	var frozen []string
	for _, rel := range rels {
		state := filepath.Join("/sys/fs/cgroup/freezer", rel, "freezer.state")
		if _, err := os.Stat(state); err == nil && os.WriteFile(state, []byte("FROZEN"), 0o644) == nil {
			frozen = append(frozen, state)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pids []int
		for _, rel := range rels {
			pids = append(pids, cgroupProcs(rel)...)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		for _, state := range frozen {
			_ = os.WriteFile(state, []byte("THAWED"), 0o644)
		}
		frozen = nil
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups %v: processes %v do not exit", rels, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroupsRemove removes rel and everything below it in every hierarchy, deepest first.
func (l *Lab) cgroupsRemove(rel string) error {
	if err := killCgroup(rel); err != nil {
		return err
	}
	roots, err := cgroupAllRoots()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(root, rel), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for { // a killed process leaves its cgroup a moment later
				if err = unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) {
					err = nil
					break
				}
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// --- reaching the lab from the machine ---

// DialHub dials addr from the hub namespace: the lab's clients (tests, kubectl through APIProxy)
// reach nodes and the VIP this way, without any address or route in the machine's own namespace.
func (l *Lab) DialHub(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := netlab.InNetNS(l.hub, func() error {
		// The socket belongs to the namespace it was created in, whichever thread uses it later.
		var err error
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	if err != nil && conn != nil {
		_ = conn.Close()
		conn = nil
	}
	return conn, err
}

// netnsAddrs lists the addresses on dev inside the network namespace name, any prefix length,
// without a process start: the lab samples them 20-60 times a second, and an `ip` run each time
// cost a tenth of a core or more of this 2-core machine at the moments the lab measures.
func netnsAddrs(name, dev string) ([]netip.Addr, error) {
	var out []netip.Addr
	err := netlab.InNetNS(name, func() error {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(p.IP); ok {
					out = append(out, ip.Unmap())
				}
			}
		}
		return nil
	})
	return out, err
}

// APIProxy returns a loopback address in the machine's namespace that forwards every connection to
// target (host:port inside the lab) through DialHub. kubectl and make use it.
func (l *Lab) APIProxy(target string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proxy != nil {
		return l.proxy.Addr().String(), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	l.proxy = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				u, err := l.DialHub(ctx, "tcp", target)
				cancel()
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// --- commands ---

func run(name string, args ...string) error {
	_, err := output(name, args...)
	return err
}

func output(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// VIPHolders lists the running nodes whose eth0 carries vip (with any prefix length), whatever any
// status says.
func (l *Lab) VIPHolders(vip netip.Addr) []string {
	var out []string
	for _, n := range l.Nodes() {
		if !n.Running() {
			continue
		}
		addrs, err := netnsAddrs(n.NetNS, "eth0")
		if err == nil && slices.Contains(addrs, vip) {
			out = append(out, n.Name)
		}
	}
	return out
}
