//go:build linux

package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Node is one machine of the lab: a network namespace on the hub's bridge, a mount and UTS
// namespace held open by a process, containerd and a kubelet loop.
type Node struct {
	lab *Lab
	// Name is the node's host name and Kubernetes node name.
	Name string
	// Addr is eth0's address in NodeSubnet.
	Addr netip.Addr
	// PodCIDR is the /27 of PodSubnet the node's bridge CNI hands out.
	PodCIDR netip.Prefix
	// Dir holds the node's state (its /etc/kubernetes, /var/lib/kubelet, ..., logs).
	Dir string
	// NetNS is the network namespace's name (ip netns).
	NetNS string
	// CgroupRoot is kubelet's cgroupRoot; the node's own daemons run in CgroupRoot+"-sys".
	CgroupRoot string

	mu     sync.Mutex
	holder *exec.Cmd
	procs  []*exec.Cmd
	port   string // the hub side of the node's veth
}

// mounts are the node's own copies of the places kubeadm, kubelet and containerd keep state.
var mounts = []struct{ dir, target string }{
	{"etc-kubernetes", "/etc/kubernetes"},
	{"var-lib-kubelet", "/var/lib/kubelet"},
	{"var-lib-etcd", "/var/lib/etcd"},
	{"var-lib-cni", "/var/lib/cni"},
	{"var-log", "/var/log"},
	{"usr-libexec-kubernetes", "/usr/libexec/kubernetes"},
	{"etc-hacp", "/etc/hacp"}, // hacpctl bootstrap's keepalived.conf
}

// AddNode creates a node's network namespace and state folder; Start boots it. Pods on every node
// reach each other's /27 through routes in every node namespace.
func (l *Lab) AddNode(name string, addr netip.Addr, podCIDR netip.Prefix) (*Node, error) {
	if !NodeSubnet.Contains(addr) || addr == HubAddr || !PodSubnet.Contains(podCIDR.Addr()) || podCIDR.Bits() < PodSubnet.Bits() {
		return nil, fmt.Errorf("node %s: %s / %s outside the lab's ranges", name, addr, podCIDR)
	}
	n := &Node{
		lab: l, Name: name, Addr: addr, PodCIDR: podCIDR,
		Dir:        filepath.Join(l.Root, name),
		NetNS:      l.ID + "-" + name,
		CgroupRoot: "/" + l.ID + "/" + name,
		port:       l.ID + name,
	}
	l.mu.Lock()
	for _, o := range l.nodes {
		if o.Name == name || o.Addr == addr || o.PodCIDR.Overlaps(podCIDR) {
			l.mu.Unlock()
			return nil, fmt.Errorf("node %s clashes with %s", name, o.Name)
		}
	}
	l.nodes = append(l.nodes, n)
	others := append([]*Node(nil), l.nodes...)
	l.mu.Unlock()

	for _, m := range mounts {
		if err := os.MkdirAll(filepath.Join(n.Dir, m.dir), 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"containerd/root", "containerd/opt", "cni/net.d", "home", "patches"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := n.writeFiles(); err != nil {
		return nil, err
	}
	// Other nodes get a route to this node's Pods, this node to theirs.
	for _, o := range others {
		if o != n {
			if err := run("ip", "-n", o.NetNS, "route", "replace", podCIDR.String(), "via", addr.String()); err != nil {
				return nil, err
			}
		}
	}
	if err := run("ip", "netns", "add", n.NetNS); err != nil {
		return nil, err
	}
	l.onClose(func() error { return run("ip", "netns", "delete", n.NetNS) })
	hub := []string{"-n", l.hub}
	node := []string{"-n", n.NetNS}
	for _, args := range [][]string{
		append(hub, "link", "add", n.port, "type", "veth", "peer", "name", "eth0", "netns", n.NetNS),
		append(hub, "link", "set", n.port, "master", "br0", "up"),
		append(node, "link", "set", "lo", "up"),
		append(node, "addr", "add", addr.String()+"/24", "dev", "eth0"),
		append(node, "link", "set", "eth0", "up"),
		// Host-network clients of Services (kube-proxy rewrites the destination after routing).
		append(node, "route", "add", ServiceSubnet.String(), "via", HubAddr.String()),
	} {
		if err := run("ip", args...); err != nil {
			return nil, err
		}
	}
	for _, o := range others {
		if o != n {
			if err := run("ip", "-n", n.NetNS, "route", "replace", o.PodCIDR.String(), "via", o.Addr.String()); err != nil {
				return nil, err
			}
		}
	}
	// kubeadm's preflight wants forwarding; the bridge CNI needs it for Pods.
	if err := run("ip", "netns", "exec", n.NetNS, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) writeFiles() error {
	l := n.lab
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for _, o := range l.Nodes() {
		fmt.Fprintf(&hosts, "%s %s\n", o.Addr, o.Name)
	}
	files := map[string]string{
		"hosts": hosts.String(),
		// Lookups fail at once on the node's own loopback; nothing is asked outside the lab.
		"resolv.conf":            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
		"containerd/config.toml": n.containerdConfig(),
		"cni/net.d/10-lab.conflist": fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "lab",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": %q}, {"dst": %q}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, n.PodCIDR, NodeSubnet, PodSubnet.Addr().String()+"/24"),
		"patches/kubeletconfiguration+merge.yaml": fmt.Sprintf("cgroupRoot: %s\n", n.CgroupRoot),
		"kubelet-loop.sh": `#!/bin/bash
# What kubeadm's systemd unit and drop-in do, without systemd: wait for the config kubeadm writes,
# read the flags kubeadm chose, run kubelet and restart it when it exits. Waiting, it looks once a
# second (systemd's unit restarts kubelet every 10 s): a sleep of 0.2 s was 0.05 cores per node
# waiting to join.
while :; do
  while [ ! -f /var/lib/kubelet/config.yaml ]; do sleep 1; done
  KUBELET_KUBEADM_ARGS=""
  [ -f /var/lib/kubelet/kubeadm-flags.env ] && . /var/lib/kubelet/kubeadm-flags.env
  echo "=== kubelet starts $(date -Is)"
  kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
    --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS
  echo "=== kubelet exited with $? $(date -Is)"
  sleep 1
done
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(n.Dir, name), []byte(content), 0o755); err != nil {
			return err
		}
	}
	// Every node's /etc/hosts names every node: rewrite the earlier ones.
	for _, o := range l.Nodes() {
		if err := os.WriteFile(filepath.Join(o.Dir, "hosts"), []byte(hosts.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// PauseImage is the sandbox image kubeadm v1.37 expects; containerd is told to use it.
var PauseImage = "registry.k8s.io/pause:3.10.2"

func (n *Node) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
# State in the node's own /run (a tmpfs), gone at every power-off as on a real machine.
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"
[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"
[debug]
  address = "/run/containerd/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = %[2]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[3]q
  # Without CAP_SYS_RESOURCE in this VM, runc cannot lower oom_score_adj below its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[4]q
    conf_dir = %[5]q
`, filepath.Join(n.Dir, "containerd/root"),
		filepath.Join(n.Dir, "containerd/opt"), PauseImage,
		filepath.Join(n.lab.Assets, "cni"), filepath.Join(n.Dir, "cni/net.d"))
}

func (n *Node) sysCgroup() string { return n.CgroupRoot + "-sys" }

// Start boots the node: mount namespace with its bind mounts, containerd (images imported on the first
// boot), the kubelet loop. Its state survives PowerOff, so Start after PowerOff is a reboot.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.holder != nil {
		return fmt.Errorf("node %s is running", n.Name)
	}
	if err := n.lab.cgroupsCreate(n.CgroupRoot); err != nil {
		return err
	}
	if err := n.lab.cgroupsCreate(n.sysCgroup()); err != nil {
		return err
	}
	holder := n.sysCommand("unshare", "--mount", "--uts", "--propagation", "slave", "--", "sleep", "infinity")
	if err := holder.Start(); err != nil {
		return err
	}
	n.holder = holder
	go func() { _ = holder.Wait() }()
	// The namespaces are ready once unshare has made them and exec'ed sleep.
	self, _ := os.Readlink("/proc/self/ns/mnt")
	deadline := time.Now().Add(10 * time.Second)
	for {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", holder.Process.Pid))
		mnt, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid))
		if strings.TrimSpace(string(comm)) == "sleep" && mnt != "" && mnt != self {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: mount namespace holder did not start", n.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	script := []string{"set -e",
		// The node's own /run: containerd's sockets and runc state, Pod network namespaces, xtables.lock.
		"mount -t tmpfs -o mode=0755 tmpfs /run"}
	for _, m := range mounts {
		script = append(script, fmt.Sprintf("mount --bind %q %q", filepath.Join(n.Dir, m.dir), m.target))
	}
	script = append(script,
		fmt.Sprintf("mount --bind %q /etc/hosts", filepath.Join(n.Dir, "hosts")),
		fmt.Sprintf("mount --bind %q /etc/resolv.conf", filepath.Join(n.Dir, "resolv.conf")),
		"mkdir -p /var/log/pods /var/log/containers /etc/kubernetes/manifests",
		"hostname "+n.Name)
	if out, err := n.Command("sh", "-c", strings.Join(script, "\n")).CombinedOutput(); err != nil {
		return fmt.Errorf("node %s mounts: %w: %s", n.Name, err, out)
	}
	if err := n.startDaemon("containerd", "containerd", "--config", filepath.Join(n.Dir, "containerd/config.toml")); err != nil {
		return err
	}
	sock := fmt.Sprintf("/proc/%d/root/run/containerd/containerd.sock", holder.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: containerd did not start (see %s)", n.Name, filepath.Join(n.Dir, "containerd.log"))
		}
	}
	if err := n.importImages(); err != nil {
		return err
	}
	return n.startDaemon("kubelet", "bash", filepath.Join(n.Dir, "kubelet-loop.sh"))
}

// importImages imports every image tarball of the lab that containerd does not have yet.
func (n *Node) importImages() error {
	out, err := n.Command("ctr", "-n", "k8s.io", "images", "list", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("node %s: ctr images list: %w: %s", n.Name, err, out)
	}
	have := map[string]bool{}
	for _, ref := range strings.Fields(string(out)) {
		have[ref] = true
	}
	for _, img := range n.lab.Images {
		tags, err := imageTags(img)
		if err != nil {
			return err
		}
		missing := false
		for _, t := range tags {
			if !have[t] {
				missing = true
			}
		}
		if !missing {
			continue
		}
		if out, err := n.Command("ctr", "-n", "k8s.io", "images", "import", img).CombinedOutput(); err != nil {
			return fmt.Errorf("node %s: importing %s: %w: %s", n.Name, img, err, out)
		}
	}
	return nil
}

// ImportImage imports one more image tarball now (for images built after the lab started).
func (n *Node) ImportImage(tarball string) error {
	if out, err := n.Command("ctr", "-n", "k8s.io", "images", "import", tarball).CombinedOutput(); err != nil {
		return fmt.Errorf("node %s: importing %s: %w: %s", n.Name, tarball, err, out)
	}
	return nil
}

// sysCommand runs name inside the node's daemon cgroup (so PowerOff finds it and everything it
// starts), but in the machine's namespaces.
func (n *Node) sysCommand(name string, args ...string) *exec.Cmd {
	var script strings.Builder
	for _, h := range []string{"freezer", "pids"} {
		fmt.Fprintf(&script, "echo $$ > /sys/fs/cgroup/%s%s/cgroup.procs && ", h, n.sysCgroup())
	}
	script.WriteString(`exec "$@"`)
	cmd := exec.Command("sh", append([]string{"-c", script.String(), "sh", name}, args...)...)
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	return cmd
}

// nsenter returns the arguments that enter the node's namespaces.
func (n *Node) nsenter() []string {
	pid := 0
	if n.holder != nil && n.holder.Process != nil {
		pid = n.holder.Process.Pid
	}
	return []string{"--net=/run/netns/" + n.NetNS, fmt.Sprintf("--mount=/proc/%d/ns/mnt", pid),
		fmt.Sprintf("--uts=/proc/%d/ns/uts", pid)}
}

func (n *Node) env() []string {
	return []string{
		"PATH=" + filepath.Join(n.lab.Assets, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(n.Dir, "home"),
		"KUBECONFIG=/etc/kubernetes/admin.conf",
		"CONTAINERD_ADDRESS=/run/containerd/containerd.sock",
		"LANG=C",
	}
}

// Command returns name with args to run on the node (its network, mount and UTS namespaces), with the
// lab's binaries first on PATH and KUBECONFIG set to the node's admin.conf.
func (n *Node) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append(append(n.nsenter(), "--", name), args...)...)
	cmd.Env = n.env()
	return cmd
}

// CommandContext is Command with a context.
func (n *Node) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append(append(n.nsenter(), "--", name), args...)...)
	cmd.Env = n.env()
	return cmd
}

// Run runs a command on the node and returns its combined output.
func (n *Node) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := n.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s %s: %w\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// startDaemon starts a long-running process on the node in its daemon cgroup, logging to Dir/NAME.log.
func (n *Node) startDaemon(logName, name string, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(n.Dir, logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := n.sysCommand("nsenter", append(append(n.nsenter(), "--", name), args...)...)
	cmd.Env = n.env()
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.procs = append(n.procs, cmd)
	go func() {
		_ = cmd.Wait()
		logf.Close()
	}()
	return nil
}

// PowerOff kills everything the node runs at once, as a power loss would: its daemons, containerd's
// shims and every container (all in the node's cgroups), and the mount namespace with them. The
// network namespace and the state on disk stay, so Start boots the node again.
func (n *Node) PowerOff() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.holder == nil {
		return nil
	}
	// Daemons and containers at once (kubelet must not restart a container it saw die), then, like
	// after a real power loss, nothing of the cgroups survives either.
	if err := killCgroup(n.sysCgroup(), n.CgroupRoot); err != nil {
		return err
	}
	errs := []error{n.lab.cgroupsRemove(n.CgroupRoot), n.lab.cgroupsRemove(n.sysCgroup()), n.forgetAddresses()}
	n.holder = nil
	n.procs = nil
	return errors.Join(errs...)
}

// forgetAddresses removes from eth0 every address but the node's own, as a power loss does: the
// node's network namespace outlives PowerOff here, and a VIP that keepalived held (killed without
// cleanup) would otherwise still answer when the link comes back, which no rebooted machine does.
func (n *Node) forgetAddresses() error {
	out, err := output("ip", "-n", n.NetNS, "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil || p.Addr() == n.Addr || p.Addr().IsLinkLocalUnicast() {
				continue
			}
			if err := run("ip", "-n", n.NetNS, "addr", "del", p.String(), "dev", "eth0"); err != nil {
				return err
			}
		}
	}
	return nil
}

// Wipe makes a powered-off node a new machine with the same name and address: kubeadm's,
// kubelet's, etcd's and hacp's state is gone (container images stay, as on a preloaded machine).
func (n *Node) Wipe() error {
	if n.Running() {
		return fmt.Errorf("node %s: wipe needs it powered off", n.Name)
	}
	for _, m := range mounts {
		if m.dir == "usr-libexec-kubernetes" {
			continue
		}
		dir := filepath.Join(n.Dir, m.dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return n.writeFiles()
}

// Running reports whether the node is started.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.holder != nil
}

// SetLink cuts (false) or restores (true) the node's cable to the hub's bridge.
func (n *Node) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return run("ip", "-n", n.lab.hub, "link", "set", n.port, state)
}

// PowerLoss is a machine losing power as its peers see it: the cable goes first, then everything
// the node runs dies at once (PowerOff).
func (n *Node) PowerLoss() error {
	if err := n.SetLink(false); err != nil {
		return err
	}
	return n.PowerOff()
}

// Boot brings a powered-off node back: the cable plugged in, then containerd and kubelet started
// as systemd would (Start).
func (n *Node) Boot() error {
	if err := n.SetLink(true); err != nil {
		return err
	}
	return n.Start()
}

// AddAddr adds an address to the node's eth0 (for example a VIP by hand).
func (n *Node) AddAddr(prefix string) error {
	return run("ip", "-n", n.NetNS, "addr", "add", prefix, "dev", "eth0")
}

// ReadFile reads a file as the node sees it (its bind mounts included).
func (n *Node) ReadFile(path string) ([]byte, error) {
	n.mu.Lock()
	holder := n.holder
	n.mu.Unlock()
	if holder == nil {
		return nil, fmt.Errorf("node %s is off", n.Name)
	}
	return os.ReadFile(fmt.Sprintf("/proc/%d/root%s", holder.Process.Pid, path))
}
