//go:build linux

package kubeadm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubernetesVersion is the version hack/lab-assets.sh builds by default.
const KubernetesVersion = "v1.37.2"

// ignoredPreflight are kubeadm's preflight checks that fail for reasons of the lab, not of the
// cluster: the kubelet runs without systemd, on the machine's cgroup v1, next to other nodes.
var ignoredPreflight = []string{"SystemVerification", "Service-Kubelet"}

// ClusterConfig is what the lab's kubeadm init is given.
type ClusterConfig struct {
	// Endpoint is controlPlaneEndpoint (the VIP and port).
	Endpoint string
	// CertificateKey encrypts the uploaded control-plane certificates (kubeadm-certs).
	CertificateKey string
	// CertificateValidity is ClusterConfiguration.certificateValidityPeriod ("2h"); empty for
	// kubeadm's default (a year).
	CertificateValidity string
}

// NewCertificateKey returns a key as `kubeadm certs certificate-key` prints it.
func NewCertificateKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kubeletConfig is the KubeletConfiguration every node shares (kubeadm uploads it and joining nodes
// download it); each node's cgroupRoot comes from its patches folder.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
# kubelet 1.37 refuses cgroup v1 unless told otherwise; this machine has v1 hierarchies.
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# The images are imported, never pulled: never collect them, and do not evict for a full disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
`

// InitConfig renders the kubeadm configuration for `kubeadm init` on n.
func (n *Node) InitConfig(c ClusterConfig) string {
	var ignore strings.Builder
	for _, p := range ignoredPreflight {
		fmt.Fprintf(&ignore, "\n  - %s", p)
	}
	return fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
certificateKey: %[1]q
localAPIEndpoint:
  advertiseAddress: %[2]s
  bindPort: 6443
nodeRegistration:
  name: %[3]s
  criSocket: unix:///run/containerd/containerd.sock
  imagePullPolicy: Never
  kubeletExtraArgs:
  - name: node-ip
    value: %[2]s
  ignorePreflightErrors:%[4]s
patches:
  directory: %[5]s
# No CoreDNS image is built; nothing in the lab resolves Service names.
skipPhases:
- addon/coredns
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: %[6]s
controlPlaneEndpoint: %[7]q
networking:
  podSubnet: %[8]s
  serviceSubnet: %[9]s
controllerManager:
  extraArgs:
  - name: node-cidr-mask-size-ipv4
    value: "27"
%[11]s---
%[10]s---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
# nf_conntrack_max is machine-wide: leave it as it is.
conntrack:
  maxPerCore: 0
`, c.CertificateKey, n.Addr, n.Name, ignore.String(), filepath.Join(n.Dir, "patches"), KubernetesVersion,
		c.Endpoint, PodSubnet, ServiceSubnet, kubeletConfig, validity(c.CertificateValidity))
}

func validity(period string) string {
	if period == "" {
		return ""
	}
	return fmt.Sprintf("certificateValidityPeriod: %s\n", period)
}

// RenewCertificates runs `kubeadm certs renew all` on n with certificates valid for period: what
// an operator does when hacp says they expire soon. The static Pods serve them once restarted.
func (n *Node) RenewCertificates(ctx context.Context, endpoint, period string) (string, error) {
	cfg := filepath.Join(n.Dir, "kubeadm-renew.yaml")
	if err := os.WriteFile(cfg, []byte(n.InitConfig(ClusterConfig{Endpoint: endpoint, CertificateValidity: period})), 0o600); err != nil {
		return "", err
	}
	return n.Run(ctx, "kubeadm", "certs", "renew", "all", "--config", cfg)
}

// RestartStaticPods restarts n's static Pods' containers (etcd, kube-apiserver) as an operator
// does after a renewal: each process gets SIGTERM and kubelet starts the container again, which
// reads the renewed files. It waits until the old processes are gone.
func (n *Node) RestartStaticPods(ctx context.Context, names ...string) error {
	var pids []int
	for _, name := range names {
		found := n.processes(name)
		if len(found) == 0 {
			return fmt.Errorf("node %s: no %s process", n.Name, name)
		}
		pids = append(pids, found...)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	return poll(ctx, func() (bool, string, error) {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return false, fmt.Sprintf("process %d still running", pid), nil
			}
		}
		return true, "", nil
	})
}

// processes lists the PIDs of n's processes named comm (containers included: they live in n's
// cgroups).
func (n *Node) processes(comm string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(c)) != comm {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err == nil && strings.Contains(string(cg), n.CgroupRoot+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// Init runs `kubeadm init --upload-certs` on n with InitConfig(c).
func (n *Node) Init(ctx context.Context, c ClusterConfig) (string, error) {
	cfg := filepath.Join(n.Dir, "kubeadm-init.yaml")
	if err := os.WriteFile(cfg, []byte(n.InitConfig(c)), 0o600); err != nil {
		return "", err
	}
	return n.Run(ctx, "kubeadm", "init", "--config", cfg, "--upload-certs")
}

// JoinArgs are the flags the lab adds to a join command: the node's name and address, its patches
// (cgroupRoot) and the preflight checks that fail because of the lab.
func (n *Node) JoinArgs(controlPlane bool) []string {
	args := []string{"--node-name", n.Name, "--patches", filepath.Join(n.Dir, "patches"),
		"--ignore-preflight-errors", strings.Join(ignoredPreflight, ",")}
	if controlPlane {
		args = append(args, "--apiserver-advertise-address", n.Addr.String())
	}
	return args
}

// Join runs a join command line as kubeadm or hacp prints it ("kubeadm join VIP:6443 --token ...")
// on n, with JoinArgs added.
func (n *Node) Join(ctx context.Context, command string) (string, error) {
	fields := strings.Fields(strings.ReplaceAll(command, "\\\n", " "))
	if len(fields) < 3 || fields[0] != "kubeadm" || fields[1] != "join" {
		return "", fmt.Errorf("not a kubeadm join command: %q", command)
	}
	controlPlane := false
	for _, f := range fields {
		if f == "--control-plane" {
			controlPlane = true
		}
	}
	return n.Run(ctx, "kubeadm", append(fields[1:], n.JoinArgs(controlPlane)...)...)
}

var joinRE = regexp.MustCompile(`kubeadm join \S+ --token \S+\s+--discovery-token-ca-cert-hash \S+`)

// WorkerJoinCommand asks kubeadm on a control-plane node for a new token and its join command.
func (n *Node) WorkerJoinCommand(ctx context.Context) (string, error) {
	out, err := n.Run(ctx, "kubeadm", "token", "create", "--print-join-command")
	if err != nil {
		return "", err
	}
	cmd := joinRE.FindString(out)
	if cmd == "" {
		return "", fmt.Errorf("no join command in %q", out)
	}
	return cmd, nil
}

// RESTConfig reads the node's admin.conf and returns a client config that reaches server (host:port
// inside the lab, for example the VIP) from the hub.
func (n *Node) RESTConfig(server string) (*rest.Config, error) {
	b, err := os.ReadFile(filepath.Join(n.Dir, "etc-kubernetes/admin.conf"))
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		return nil, err
	}
	cfg.Host = "https://" + server
	cfg.Dial = n.lab.DialHub
	cfg.Timeout = 10 * time.Second
	return cfg, nil
}

// Kubeconfig writes a copy of the node's admin.conf whose server is a loopback proxy (Lab.APIProxy)
// to server, for kubectl and make in the machine's namespace, and returns its path.
func (n *Node) Kubeconfig(server string) (string, error) {
	addr, err := n.lab.APIProxy(server)
	if err != nil {
		return "", err
	}
	cfg, err := clientcmd.LoadFromFile(filepath.Join(n.Dir, "etc-kubernetes/admin.conf"))
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + addr
		// The API server's certificate names the Service name, not the loopback proxy.
		c.TLSServerName = "kubernetes"
	}
	path := filepath.Join(n.lab.Root, "admin.conf")
	return path, clientcmd.WriteToFile(*cfg, path)
}

// WaitNodesReady waits until every named Node is Ready.
func WaitNodesReady(ctx context.Context, c kubernetes.Interface, names ...string) error {
	return poll(ctx, func() (bool, string, error) {
		var missing []string
		for _, name := range names {
			node, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				missing = append(missing, name+": "+err.Error())
				continue
			}
			ready := false
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				missing = append(missing, name+" not Ready")
			}
		}
		return len(missing) == 0, strings.Join(missing, ", "), nil
	})
}

// WaitPodsRunning waits until the Pods that match selector in namespace are want, all Running and ready.
func WaitPodsRunning(ctx context.Context, c kubernetes.Interface, namespace, selector string, want int) error {
	return poll(ctx, func() (bool, string, error) {
		pods, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error(), nil
		}
		ready := 0
		var states []string
		for _, p := range pods.Items {
			ok := p.Status.Phase == corev1.PodRunning
			for _, cs := range p.Status.ContainerStatuses {
				ok = ok && cs.Ready
			}
			if ok {
				ready++
			}
			states = append(states, fmt.Sprintf("%s on %s: %s", p.Name, p.Spec.NodeName, p.Status.Phase))
		}
		return ready == want && len(pods.Items) == want, strings.Join(states, "; "), nil
	})
}

// poll calls f every half second until it reports done, fails, or ctx ends (then the last state
// f described is in the error).
func poll(ctx context.Context, f func() (bool, string, error)) error {
	last := ""
	for {
		done, state, err := f()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		last = state
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last state: %s", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Host is one of the lab's machines before it exists.
type Host struct {
	Name    string
	Addr    netip.Addr
	PodCIDR netip.Prefix
	// ControlPlane is true for h1, h2 and h3.
	ControlPlane bool
}

// Seed returns the seed's four hosts in the lab's subnets, h1 .12, h2 .10, h3 .9 (control plane)
// and h4 .16 (worker) with one /27 of PodSubnet each, and the VIP, .8.
func Seed() (netip.Addr, []Host) {
	return netip.MustParseAddr("198.51.100.8"), []Host{
		{"h1", netip.MustParseAddr("198.51.100.12"), netip.MustParsePrefix("203.0.113.0/27"), true},
		{"h2", netip.MustParseAddr("198.51.100.10"), netip.MustParsePrefix("203.0.113.32/27"), true},
		{"h3", netip.MustParseAddr("198.51.100.9"), netip.MustParsePrefix("203.0.113.64/27"), true},
		{"h4", netip.MustParseAddr("198.51.100.16"), netip.MustParsePrefix("203.0.113.96/27"), false},
	}
}
