// Package e2e is the seed's HA test for real: hosts h1..h4 as network namespaces, real keepalived
// driven by the real agent, the real manager against a real kube-apiserver.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/controllers"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/test/netlab"
	"hacp.dev/hacp/test/testbin"
	"hacp.dev/hacp/test/testenv"
)

// VIP is the virtual IP every scenario moves around.
var VIP = netip.MustParseAddr("198.51.100.100")

const ns = "e2e"

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// Host is one machine of the seed: a namespace with a stand-in API server and, on control-plane
// hosts, an agent supervising keepalived.
type Host struct {
	*netlab.Host
	dir       string
	readyFile string
	agent     *exec.Cmd
	agentOut  *syncBuffer
}

// SetReady makes the host's /readyz answer 200 (true) or 500 (false, as after losing quorum).
func (h *Host) SetReady(t testing.TB, ready bool) {
	content := "lost etcd quorum"
	if ready {
		content = "ok"
	}
	if err := os.WriteFile(h.readyFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// HasVIP reports whether the VIP is on the host's eth0.
func (h *Host) HasVIP() bool { return h.HasAddr(VIP) }

// Env is the whole test world.
type Env struct {
	// t reports failures (the current subtest); root owns cleanups (the whole test).
	t          testing.TB
	root       testing.TB
	Lab        *netlab.Lab
	Hosts      map[string]*Host
	Client     client.Client
	agentBin   string
	checkBin   string // hacp-check: the health check script
	standin    string
	kubeconf   string
	restConfig *rest.Config
	kaOptions  keepalived.Options
}

// EnvOption changes what NewEnv starts.
type EnvOption int

// WithoutManager leaves starting managers (StartManager) to the test.
const WithoutManager EnvOption = iota

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var seedHosts = []struct {
	name, ip     string
	controlPlane bool
}{
	{"h1", "198.51.100.11", true},
	{"h2", "198.51.100.12", true},
	{"h3", "198.51.100.13", true},
	{"h4", "198.51.100.14", false},
}

// NewEnv builds the lab, the control plane and the manager. Agents start with StartAgents.
func NewEnv(t testing.TB, opts ...EnvOption) *Env {
	t.Helper()
	netlab.Require(t)
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUBEBUILDER_ASSETS is not set; run through make test")
		}
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	e := &Env{t: t, root: t, Hosts: map[string]*Host{}}
	e.agentBin = testbin.Build(t, "./cmd/agent", "hacp-agent")
	e.checkBin = testbin.Build(t, "./cmd/check", "hacp-check")
	e.standin = testbin.Build(t, "./test/standin", "standin")

	// keepalived's rendered configs name /run/hacp/keepalived.fifo; each host gets its own
	// directory bind-mounted there inside its namespace (see wrap).
	if err := os.MkdirAll("/run/hacp", 0o755); err != nil {
		t.Fatal(err)
	}

	e.Lab = netlab.New(t, "e2")
	base := t.TempDir()
	for _, hs := range seedHosts {
		h := &Host{Host: e.Lab.AddHost(hs.name, hs.ip), dir: filepath.Join(base, hs.name), agentOut: &syncBuffer{}}
		if err := os.MkdirAll(h.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		h.readyFile = filepath.Join(h.dir, "ready")
		h.SetReady(t, true)
		// The stand-in API server listens on every address, so the VIP answers with the
		// name of the host that holds it.
		h.Start(nil, e.standin, "--listen=:6443", "--ready-file="+h.readyFile, "--name="+hs.name)
		e.Hosts[hs.name] = h
	}

	logf := zap.New(zap.WriteTo(&syncBuffer{}))
	ctrl.SetLogger(logf)
	testEnv, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testEnv.Stop() })
	user, err := testEnv.AddUser(envtest.User{Name: "hacp-agent", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	e.kubeconf = filepath.Join(base, "kubeconfig")
	if err := os.WriteFile(e.kubeconf, kc, 0o600); err != nil {
		t.Fatal(err)
	}

	scheme := controllers.NewScheme()
	e.Client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e.restConfig = cfg
	e.kaOptions = keepalived.Options{CheckCommand: e.checkBin, ScriptUser: "root", NotifyFIFO: "/run/hacp/keepalived.fifo", DefaultInterface: "eth0"}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := e.Client.Create(ctx2, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, hs := range seedHosts {
		e.createNode(ctx2, hs.name, hs.ip, hs.controlPlane)
	}
	if len(opts) == 0 {
		e.StartManager("manager", false)
	}
	return e
}

// Manager is one in-process hacp manager.
type Manager struct {
	Name    string
	elected <-chan struct{}
	cancel  context.CancelFunc
	done    chan error
	stop    sync.Once
	stopped atomic.Bool
}

// Leading reports whether the manager holds the leader lease (always, without leader election).
func (m *Manager) Leading() bool {
	select {
	case <-m.elected:
		return true
	default:
		return false
	}
}

// Stop ends the manager. With leader election the lease is not released, as when the process is
// killed: another replica takes over only once the lease expires.
func (m *Manager) Stop() {
	m.stop.Do(func() {
		m.stopped.Store(true)
		m.cancel()
		<-m.done
	})
}

// Stopped reports whether Stop was called.
func (m *Manager) Stopped() bool { return m.stopped.Load() }

// StartManager runs the real reconcilers in-process, as one replica of config/manager. With
// leaderElect it competes for the lease with the deployment's timing (config/manager: 8 s lease,
// 6 s renew deadline, 1 s retry).
func (e *Env) StartManager(name string, leaderElect bool) *Manager {
	e.t.Helper()
	cacheOpts, err := controllers.CacheOptions(controllers.DefaultNodeCacheSelector)
	if err != nil {
		e.t.Fatal(err)
	}
	lease, renew, retry := 8*time.Second, 6*time.Second, time.Second
	// Each test of this package runs its own manager in the same process (testenv allows it).
	mgr, err := testenv.NewManager(e.restConfig, controllers.NewScheme(), cacheOpts, func(o *ctrl.Options) {
		o.LeaderElection, o.LeaderElectionID, o.LeaderElectionNamespace = leaderElect, "hacp.dev", ns
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &lease, &renew, &retry
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := controllers.SetupReconcilers(mgr, controllers.Config{AgentImage: "hacp:e2e", KeepalivedOptions: e.kaOptions, Clock: clock.RealClock{}}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Name: name, elected: mgr.Elected(), cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	e.root.Cleanup(m.Stop)
	return m
}

func (e *Env) createNode(ctx context.Context, name, ip string, controlPlane bool) {
	if err := e.registerNode(ctx, name, ip, controlPlane); err != nil {
		e.t.Fatal(err)
	}
}

// registerNode is what kubelet does when it starts: the Node, Ready, with its address. It
// returns its error, for goroutines other than the test's.
func (e *Env) registerNode(ctx context.Context, name, ip string, controlPlane bool) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if controlPlane {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
	}
	if err := e.Client.Create(ctx, n); err != nil {
		return err
	}
	n.Status = corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	return e.Client.Status().Update(ctx, n)
}

// In returns the Env reporting failures to t (a subtest); cleanups stay with the whole test.
func (e *Env) In(t testing.TB) *Env {
	c := *e
	c.t = t
	return &c
}

// MakeControlPlane labels an existing Node as control plane (scenario d).
func (e *Env) MakeControlPlane(name string) { e.setControlPlane(name, true) }

// Profile is a VIPGroup's timing.
type Profile struct {
	Name                string
	Version             int32
	AdvertMilliseconds  int32
	CheckInterval, Fall int32
}

// DefaultProfile has the example's VRRP timing (VRRPv2, 1 s) with fall 2, one less than the CRD's
// default: with it a partitioned holder gives the VIP up (interval x fall, 2 s) before the others'
// master-down interval (3.22 s) ends, which TestPartition checks sample by sample. The CRD's
// default, fall 3, has TestDefaultHealthCheck.
var (
	DefaultProfile = Profile{Name: "default", Version: 2, AdvertMilliseconds: 1000, CheckInterval: 1, Fall: 2}
	FastProfile    = Profile{Name: "fast", Version: 3, AdvertMilliseconds: 100, CheckInterval: 1, Fall: 1}
)

// MasterDown is keepalived's master_down_interval for the top backup (the plan's second priority).
func (p Profile) MasterDown() time.Duration {
	adv := time.Duration(p.AdvertMilliseconds) * time.Millisecond
	return masterDown(adv, keepalived.TopPriority-keepalived.PriorityStep)
}

// CreateVIPGroup applies the group the agents serve.
func (e *Env) CreateVIPGroup(p Profile, mode hacpv1.HealthCheckMode) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, vipGroupFor(p, mode)); err != nil {
		e.t.Fatal(err)
	}
}

// vipGroupFor is the group every scenario uses, with p's timing.
func vipGroupFor(p Profile, mode hacpv1.HealthCheckMode) *hacpv1.VIPGroup {
	return &hacpv1.VIPGroup{
		TypeMeta:   metav1.TypeMeta{APIVersion: hacpv1.GroupVersion.String(), Kind: "VIPGroup"},
		ObjectMeta: metav1.ObjectMeta{Name: "vip", Namespace: ns},
		Spec: hacpv1.VIPGroupSpec{
			VirtualIPs: []string{VIP.String()}, VirtualRouterID: 68, VRRPVersion: p.Version,
			AdvertisementIntervalMilliseconds: p.AdvertMilliseconds,
			NodeSelector:                      hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": ""},
			Preemption:                        hacpv1.PreemptionEnabled,
			HealthCheck: hacpv1.HealthCheck{Mode: mode, APIServerPort: 6443, Path: "/readyz", IntervalSeconds: p.CheckInterval,
				TimeoutMilliseconds: 500, Fall: p.Fall, Rise: 1},
		},
	}
}

// StartAgent does what the DaemonSet and kubelet do on a node: an agent Pod object, and the agent
// process. The agent process runs in the root namespace so it reaches the API server on loopback
// (standing in for the pod network); keepalived, its health check and ip run inside the host's
// namespace through --wrap, with the host's directory bind-mounted at /run/hacp.
func (e *Env) StartAgent(name string, extra ...string) {
	e.t.Helper()
	if err := e.startAgent(name, extra...); err != nil {
		e.t.Fatal(err)
	}
}

// startAgent is StartAgent returning its error, for goroutines other than the test's.
func (e *Env) startAgent(name string, extra ...string) error {
	h := e.Hosts[name]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "vip-keepalived-" + name, Namespace: ns, Labels: map[string]string{
			"app.kubernetes.io/name": "hacp-agent", controllers.LabelManagedBy: controllers.LabelManagedByValue, controllers.LabelVIPGroup: "vip", "tier": "control-plane",
		}},
		Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "agent", Image: "hacp:e2e"}}},
	}
	if err := e.Client.Create(ctx, pod); client.IgnoreAlreadyExists(err) != nil {
		return err
	}
	wrap, err := e.writeWrap(h, h.dir)
	if err != nil {
		return err
	}
	cmd := exec.Command(e.agentBin, "run",
		"--namespace="+ns, "--pod="+pod.Name, "--node="+name, "--interface=eth0", "--secret=vip-keepalived",
		"--dir="+h.dir, "--fifo="+filepath.Join(h.dir, "keepalived.fifo"), "--keepalived=keepalived",
		"--kubeconfig="+e.kubeconf, "--wrap="+wrap, "--handover-socket="+handoverSocket(name))
	cmd.Args = append(cmd.Args, extra...)
	cmd.Stdout, cmd.Stderr = h.agentOut, h.agentOut
	if err := cmd.Start(); err != nil {
		return err
	}
	h.agent = cmd
	e.root.Cleanup(func() { e.KillAgentHard(name) })
	return nil
}

// wrap writes a script that runs a command inside h's namespace with dir bind-mounted at
// /run/hacp, as a Pod's emptyDir is: each agent on a host has its own.
func (e *Env) wrap(h *Host, dir string) string {
	e.t.Helper()
	wrap, err := e.writeWrap(h, dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return wrap
}

func (e *Env) writeWrap(h *Host, dir string) (string, error) {
	wrap := filepath.Join(dir, "wrap.sh")
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s sh -c 'mount --bind %s /run/hacp && exec \"$@\"' wrap \"$@\"\n", h.NS, dir)
	return wrap, os.WriteFile(wrap, []byte(script), 0o755)
}

// handoverSocket is the bootstrap agent's abstract socket on a host. Abstract sockets belong to a
// network namespace; the agent processes all run in the root one here, so each host gets a name.
func handoverSocket(host string) string { return "hacp-bootstrap-" + host }

// StopAgent sends SIGTERM (a drain or upgrade) and waits for the agent to exit.
func (e *Env) StopAgent(name string) {
	h := e.Hosts[name]
	if h.agent == nil {
		return
	}
	_ = h.agent.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = h.agent.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = h.agent.Process.Kill()
		<-done
	}
	h.agent = nil
}

// KillAgentHard kills the agent and every process in the host's namespace (keepalived).
func (e *Env) KillAgentHard(name string) {
	h := e.Hosts[name]
	if h.agent != nil && h.agent.ProcessState == nil {
		_ = h.agent.Process.Kill()
		_ = h.agent.Wait()
	}
	h.agent = nil
	killKeepalived(h)
}

// PowerOff is the seed's `poweroff` as keepalived's peers see it: the link goes first, then
// keepalived dies without a word (a SIGKILL after the cut sends nothing).
func (e *Env) PowerOff(name string) {
	h := e.Hosts[name]
	h.CutLink()
	e.KillAgentHard(name)
}

func killKeepalived(h *Host) {
	for _, pid := range keepalivedPIDs(h) {
		_ = exec.Command("kill", "-9", pid).Run()
	}
}

// keepalivedPIDs lists the keepalived processes in h's namespace.
func keepalivedPIDs(h *Host) []string {
	out, _ := exec.Command("ip", "netns", "pids", h.NS).Output()
	var pids []string
	for _, pid := range strings.Fields(string(out)) {
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		if strings.TrimSpace(string(comm)) == "keepalived" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Holders returns the hosts whose eth0 has the VIP.
func (e *Env) Holders() []string {
	out, _ := e.holders()
	return out
}

// holders is Holders, and whether every host could be looked at.
func (e *Env) holders() ([]string, bool) {
	var out []string
	ok := true
	for name, h := range e.Hosts {
		has, err := h.LookupAddr(VIP)
		ok = ok && err == nil
		if has {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, ok
}

// WaitHolder waits until exactly want holds the VIP (want "" for nobody).
func (e *Env) WaitHolder(want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var got []string
	for time.Now().Before(deadline) {
		got = e.Holders()
		if (want == "" && len(got) == 0) || (len(got) == 1 && got[0] == want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.Dump()
	e.t.Fatalf("after %s the VIP is held by %v, want %q", timeout, got, want)
}

// WaitMaster waits until the VIPGroup's status names master and is Ready.
func (e *Env) WaitMaster(master string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var vg hacpv1.VIPGroup
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip"}, &vg)
		cancel()
		if err == nil && vg.Status.Master == master {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.Dump()
	c := meta.FindStatusCondition(vg.Status.Conditions, hacpv1.ConditionReady)
	e.t.Fatalf("VIPGroup master is %q (Ready: %+v), want %q", vg.Status.Master, c, master)
}

// Configs returns the rendered configs.
func (e *Env) Configs() map[string][]byte {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var s corev1.Secret
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip-keepalived"}, &s); err != nil {
		return nil
	}
	return s.Data
}

// Dump logs what each agent said, for failures.
func (e *Env) Dump() {
	for name, h := range e.Hosts {
		out := h.agentOut.String()
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		e.t.Logf("--- agent %s ---\n%s", name, out)
	}
}

// Sampler records which hosts hold the VIP, every period.
type Sampler struct {
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

// Sample is one observation.
type Sample struct {
	At      time.Time
	Holders []string
}

// Sample starts sampling the hosts' eth0 every period.
func (e *Env) Sample(period time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-tick.C:
				h, ok := e.holders()
				if !ok {
					continue // `ip` failed (a loaded machine): no observation, not an empty one
				}
				s.mu.Lock()
				s.samples = append(s.samples, Sample{At: now, Holders: h})
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the samples.
func (s *Sampler) Stop() []Sample {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}
