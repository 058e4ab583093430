// Package etcdcluster runs a real multi-member etcd cluster on loopback for tests, with TLS and
// client certificate authentication as kubeadm sets it up. Members can be killed (SIGKILL, as a
// power-off) and restarted, and, in a cluster started with StartPartitionable, cut off from their
// peers while still answering clients.
package etcdcluster

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"hacp.dev/hacp/test/pki"
)

// T is the part of T this package uses (GinkgoT() provides it too).
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Cleanup(func())
}

// Cluster is a running etcd cluster.
type Cluster struct {
	t       T
	bin     string
	dir     string
	Members []*Member
	// CA, ClientCert and ClientKey are what a client (hacp) needs, PEM-encoded.
	CA, ClientCert, ClientKey []byte
	initial                   string
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	mu        sync.Mutex
	cmd       *exec.Cmd
	out       bytes.Buffer
	args      []string
	// uid runs the member's process (StartPartitionable): iptables tells its traffic by owner.
	uid uint32
}

// Binary finds the etcd binary of the local control plane (KUBEBUILDER_ASSETS).
func Binary(t T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	bin := filepath.Join(dir, "etcd")
	if _, err := os.Stat(bin); dir == "" || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("etcd not found in KUBEBUILDER_ASSETS; run through make test")
		}
		t.Skip("etcd not found in KUBEBUILDER_ASSETS: run `make test`")
	}
	return bin
}

// freePort is a loopback port no one listens on, below Linux's ephemeral range (32768-60999).
// A port from ":0" is ephemeral: between its listener's close and etcd's bind, any connect() of
// the test processes running beside this one (make test runs packages in parallel) may take it
// as its source port, and the member exits ("address already in use") with nobody told. A
// controllers spec whose member stayed unhealthy for all of its 30 s, in one make test run, fits
// that (the member's output was not kept, so it is not proven).
func freePort(t T) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port
	}
	t.Fatal("no free loopback port in 20000-31999")
	return 0
}

// Start runs a cluster of members with the given names.
func Start(t T, names ...string) *Cluster {
	t.Helper()
	return start(t, false, names)
}

// StartPartitionable is Start with each member running under its own uid, so that Partition can
// cut its peer traffic. It needs root and iptables.
func StartPartitionable(t T, names ...string) *Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partitioning etcd members needs root (iptables, members under their own uids)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("partitioning etcd members needs iptables")
	}
	return start(t, true, names)
}

func start(t T, partitionable bool, names []string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: Binary(t), dir: t.TempDir()}
	if partitionable {
		// Members under other uids must reach their certificates and data directories.
		dir, err := os.MkdirTemp("", "hacp-etcd-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.dir = dir
		// And their binary: the cache under root's home is not theirs to read.
		bin, err := os.ReadFile(c.bin)
		if err != nil {
			t.Fatal(err)
		}
		c.bin = filepath.Join(dir, "etcd")
		if err := os.WriteFile(c.bin, bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := pki.NewCA("etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.Issue("etcd", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c.CA = ca.CertPEM
	c.ClientCert, c.ClientKey, err = ca.Issue("kube-apiserver-etcd-client", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o600)
	if partitionable {
		mode = 0o644 // a throwaway test CA, read by members under other uids
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(c.dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, certFile, keyFile := write("ca.crt", ca.CertPEM), write("server.crt", srvCert), write("server.key", srvKey)
	var initial []string
	for i, n := range names {
		m := &Member{Name: n, ClientURL: fmt.Sprintf("https://127.0.0.1:%d", freePort(t)), PeerURL: fmt.Sprintf("https://127.0.0.1:%d", freePort(t))}
		if partitionable {
			m.uid = uint32(40000 + os.Getpid()%10000*10 + i)
			data := filepath.Join(c.dir, n)
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(data, int(m.uid), int(m.uid)); err != nil {
				t.Fatal(err)
			}
		}
		c.Members = append(c.Members, m)
		initial = append(initial, n+"="+m.PeerURL)
	}
	c.initial = strings.Join(initial, ",")
	for _, m := range c.Members {
		m.args = []string{
			"--name=" + m.Name, "--data-dir=" + filepath.Join(c.dir, m.Name),
			"--listen-client-urls=" + m.ClientURL, "--advertise-client-urls=" + m.ClientURL,
			"--listen-peer-urls=" + m.PeerURL, "--initial-advertise-peer-urls=" + m.PeerURL,
			"--initial-cluster=" + c.initial, "--initial-cluster-state=new", "--initial-cluster-token=hacp-test",
			"--client-cert-auth", "--trusted-ca-file=" + caFile, "--cert-file=" + certFile, "--key-file=" + keyFile,
			"--peer-client-cert-auth", "--peer-trusted-ca-file=" + caFile, "--peer-cert-file=" + certFile, "--peer-key-file=" + keyFile,
			"--heartbeat-interval=100", "--election-timeout=500", "--log-level=error",
		}
		c.StartMember(m)
	}
	t.Cleanup(c.stopAll)
	return c
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

// StartMember (re)starts a member's process with its data directory.
func (c *Cluster) StartMember(m *Member) {
	c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(c.bin, m.args...)
	cmd.Stdout, cmd.Stderr = &m.out, &m.out
	if m.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: m.uid, Gid: m.uid}}
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting etcd %s: %v", m.Name, err)
	}
	m.cmd = cmd
}

// Kill SIGKILLs a member, as a power-off would.
func (c *Cluster) Kill(m *Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// Partition cuts m off from its peers, both ways, while it keeps answering clients: what a member
// behind a broken switch port or a firewall on the peer port (2380) sees. The returned function
// heals it; cleanup heals it too.
func (c *Cluster) Partition(m *Member) (heal func()) {
	c.t.Helper()
	if m.uid == 0 {
		c.t.Fatal("Partition needs a cluster from StartPartitionable")
	}
	port := func(u string) string { return u[strings.LastIndex(u, ":")+1:] }
	var rules [][]string
	// Nothing reaches its peer listener, and it reaches no other member's.
	rules = append(rules, []string{"INPUT", "-p", "tcp", "--dport", port(m.PeerURL), "-j", "REJECT", "--reject-with", "tcp-reset"})
	for _, o := range c.Members {
		if o != m {
			rules = append(rules, []string{"OUTPUT", "-p", "tcp", "--dport", port(o.PeerURL), "-m", "owner", "--uid-owner", fmt.Sprint(m.uid), "-j", "REJECT", "--reject-with", "tcp-reset"})
		}
	}
	run := func(op string, rule []string) error {
		out, err := exec.Command("iptables", append([]string{"-w", op}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s %v: %v: %s", op, rule, err, out)
		}
		return nil
	}
	for _, r := range rules {
		if err := run("-I", r); err != nil {
			c.t.Fatal(err)
		}
	}
	// The rules match every packet, not only new connections: established peer streams break too.
	var once sync.Once
	heal = func() {
		once.Do(func() {
			for _, r := range rules {
				_ = run("-D", r)
			}
		})
	}
	c.t.Cleanup(heal)
	return heal
}

func (c *Cluster) stopAll() {
	for _, m := range c.Members {
		c.Kill(m)
	}
}
