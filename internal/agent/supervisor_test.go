package agent

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/test/netlab"
	"hacp.dev/hacp/test/testbin"
)

func TestMain(m *testing.M) {
	// The handover tests re-run this binary as a peer that hacp must not trust.
	if sock := os.Getenv("HACP_TEST_LISTEN"); sock != "" {
		os.Exit(impostorListen(sock))
	}
	if sock := os.Getenv("HACP_TEST_ASK"); sock != "" {
		os.Exit(impostorAsk(sock, os.Getenv("HACP_TEST_COMMAND")))
	}
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// recorder keeps every report the supervisor publishes.
type recorder struct {
	mu      sync.Mutex
	reports []contract.Report
}

func (r *recorder) add(rep contract.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rep)
}

func (r *recorder) last() contract.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return contract.Report{}
	}
	return r.reports[len(r.reports)-1]
}

func (r *recorder) states() []contract.VRRPState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []contract.VRRPState
	for _, rep := range r.reports {
		if len(out) == 0 || out[len(out)-1] != rep.State {
			out = append(out, rep.State)
		}
	}
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// render makes h1's config of a two-member group whose peer does not exist, so h1 decides alone.
func render(t *testing.T, checkCmd, fifo string, vips ...string) []byte {
	t.Helper()
	in := keepalived.Input{
		Namespace: "test", Name: "vip",
		Spec: hacpv1.VIPGroupSpec{
			VirtualIPs: vips, VirtualRouterID: 42, AdvertisementIntervalMilliseconds: 100, VRRPVersion: 3,
			Preemption: hacpv1.PreemptionEnabled,
			HealthCheck: hacpv1.HealthCheck{Mode: hacpv1.HealthCheckQuorumAware, APIServerPort: 6443, Path: "/readyz",
				IntervalSeconds: 1, TimeoutMilliseconds: 500, Fall: 1, Rise: 1},
		},
		Members: []keepalived.Member{
			{Name: "h1", Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.11")}},
			{Name: "h2", Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.12")}},
		},
		Options: keepalived.Options{CheckCommand: checkCmd, ScriptUser: "root", NotifyFIFO: fifo, DefaultInterface: "eth0"},
	}
	cfg, err := keepalived.RenderNode(in, "h1")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Text
}

func TestSupervisorWithRealKeepalived(t *testing.T) {
	lab := netlab.New(t, "ag")
	h1 := lab.AddHost("h1", "198.51.100.11")
	agentBin := testbin.Build(t, "./cmd/agent", "hacp-agent")
	standin := testbin.Build(t, "./test/standin", "standin")

	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	if err := os.WriteFile(ready, []byte("not ready"), 0o644); err != nil {
		t.Fatal(err)
	}
	h1.Start(nil, standin, "--listen=127.0.0.1:6443", "--ready-file="+ready)

	vip := netip.MustParseAddr("198.51.100.100")
	vip2 := netip.MustParseAddr("198.51.100.101")
	// A crashed predecessor left the VIP behind.
	h1.AddAddr(vip.String() + "/32")

	var klog bytes.Buffer
	rec := &recorder{}
	fifo := filepath.Join(dir, "keepalived.fifo")
	sup := &Supervisor{
		Keepalived: "keepalived", Dir: filepath.Join(dir, "run"), FIFO: fifo, Interface: "eth0",
		Wrap: h1.Wrap(), Report: rec.add, Log: testr.New(t), KeepalivedOutput: &syncWriter{w: &klog},
		StopTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	configs := make(chan []byte, 1)
	go func() { done <- sup.Run(ctx, configs) }()
	defer func() {
		cancel()
		<-done
	}()

	first := render(t, agentBin, fifo, vip.String())
	configs <- first

	t.Log("the API server is not ready: FAULT, and the stale VIP is gone")
	waitFor(t, "FAULT", 15*time.Second, func() bool { return rec.last().State == "FAULT" })
	if h1.HasAddr(vip) {
		t.Fatal("the stale VIP is still on eth0 of a FAULT node")
	}
	if got := rec.last().ConfigHash; got != keepalived.HashConfig(first) {
		t.Fatalf("reported hash %q, want the applied config's", got)
	}
	pid := sup.proc.Process.Pid

	t.Log("the API server turns ready: MASTER, with the VIP")
	if err := os.WriteFile(ready, []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "MASTER", 15*time.Second, func() bool { return rec.last().State == "MASTER" })
	waitFor(t, "VIP on eth0", 5*time.Second, func() bool { return h1.HasAddr(vip) })

	t.Log("a config keepalived rejects is reported and not applied")
	bad := bytes.Replace(first, []byte("interface eth0"), []byte("interface nosuchif0"), 1)
	configs <- bad
	waitFor(t, "a config error", 10*time.Second, func() bool { return rec.last().ConfigError != "" })
	if !strings.Contains(rec.last().ConfigError, "keepalived --config-test") {
		t.Errorf("config error %q does not say keepalived rejected it", rec.last().ConfigError)
	}
	if rec.last().ConfigHash != keepalived.HashConfig(first) || rec.last().State != "MASTER" || !h1.HasAddr(vip) {
		t.Fatalf("a rejected config disturbed the running one: %+v", rec.last())
	}
	if sup.proc.Process.Pid != pid {
		t.Fatal("keepalived was restarted for a rejected config")
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, "run", "keepalived.conf"))
	if !bytes.Equal(onDisk, first) {
		t.Fatal("the rejected config replaced keepalived.conf")
	}

	t.Log("a new valid config is applied by SIGHUP, not a restart")
	second := render(t, agentBin, fifo, vip.String(), vip2.String())
	configs <- second
	waitFor(t, "the new hash", 10*time.Second, func() bool {
		return rec.last().ConfigHash == keepalived.HashConfig(second) && rec.last().ConfigError == ""
	})
	waitFor(t, "the second VIP", 10*time.Second, func() bool { return h1.HasAddr(vip2) })
	if sup.proc.Process.Pid != pid {
		t.Fatal("keepalived was restarted instead of reloaded")
	}

	t.Log("the API server becomes unready again: FAULT, VIPs released")
	if err := os.WriteFile(ready, []byte("lost quorum"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "FAULT again", 15*time.Second, func() bool { return rec.last().State == "FAULT" })
	waitFor(t, "VIPs released", 5*time.Second, func() bool { return !h1.HasAddr(vip) && !h1.HasAddr(vip2) })
	if err := os.WriteFile(ready, []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "MASTER again", 15*time.Second, func() bool { return rec.last().State == "MASTER" && h1.HasAddr(vip) })

	t.Log("stopping (SIGTERM from the kubelet) stops keepalived and releases the VIPs")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if h1.HasAddr(vip) || h1.HasAddr(vip2) {
		t.Fatal("VIPs left on eth0 after the agent stopped")
	}
	if rec.last().State != "STOP" {
		t.Fatalf("final state %q, want STOP", rec.last().State)
	}
	t.Logf("states seen: %v", rec.states())
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
