// Package etcdcluster runs a real multi-member etcd cluster on loopback for tests, with TLS and
// client certificate authentication as kubeadm sets it up. Members can be killed (SIGKILL, as a
// power-off) and restarted.
package etcdcluster

import (
	"bytes"
	"fmt"
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

func freePort(t T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a cluster of members with the given names and waits until it has a leader.
func Start(t T, names ...string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: Binary(t), dir: t.TempDir()}
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
	write := func(name string, b []byte) string {
		p := filepath.Join(c.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, certFile, keyFile := write("ca.crt", ca.CertPEM), write("server.crt", srvCert), write("server.key", srvKey)
	var initial []string
	for _, n := range names {
		m := &Member{Name: n, ClientURL: fmt.Sprintf("https://127.0.0.1:%d", freePort(t)), PeerURL: fmt.Sprintf("https://127.0.0.1:%d", freePort(t))}
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

func (c *Cluster) stopAll() {
	for _, m := range c.Members {
		c.Kill(m)
	}
}
