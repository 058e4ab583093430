package agent

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/test/netlab"
	"hacp.dev/hacp/test/testbin"
)

func TestDecideHandover(t *testing.T) {
	const md = 400 * time.Millisecond
	for name, tc := range map[string]struct {
		instances  map[string]contract.VRRPState
		settledFor time.Duration
		mode       HandoverMode
		ok         bool
	}{
		"not started":               {nil, 0, "", false},
		"master":                    {map[string]contract.VRRPState{"v4": "MASTER"}, 0, HandoverKeep, true},
		"dual-stack master":         {map[string]contract.VRRPState{"v4": "MASTER", "v6": "MASTER"}, 0, HandoverKeep, true},
		"master on one family only": {map[string]contract.VRRPState{"v4": "MASTER", "v6": "BACKUP"}, 0, "", false},
		"backup, still starting":    {map[string]contract.VRRPState{"v4": "BACKUP"}, md / 2, "", false},
		"backup at master-down":     {map[string]contract.VRRPState{"v4": "BACKUP"}, md, "", false},
		"backup past master-down":   {map[string]contract.VRRPState{"v4": "BACKUP"}, md + time.Millisecond, HandoverRelease, true},
		"fault, still starting":     {map[string]contract.VRRPState{"v4": "FAULT"}, md / 2, "", false},
		// h1's API server is not ready at handover: h2 becomes MASTER within master-down, and
		// h1's bootstrap must not hold the VIP next to it.
		"fault past master-down":                   {map[string]contract.VRRPState{"v4": "FAULT"}, md + time.Millisecond, HandoverRelease, true},
		"backup and fault past master-down":        {map[string]contract.VRRPState{"v4": "BACKUP", "v6": "FAULT"}, md + time.Millisecond, HandoverRelease, true},
		"fault on one family, master on the other": {map[string]contract.VRRPState{"v4": "MASTER", "v6": "FAULT"}, time.Hour, "", false},
		"stopped": {map[string]contract.VRRPState{"v4": "STOP"}, time.Hour, "", false},
	} {
		t.Run(name, func(t *testing.T) {
			mode, ok := DecideHandover(tc.instances, tc.settledFor, md)
			if mode != tc.mode || ok != tc.ok {
				t.Fatalf("got (%q, %v), want (%q, %v)", mode, ok, tc.mode, tc.ok)
			}
		})
	}
}

func TestMasterDownOf(t *testing.T) {
	for name, tc := range map[string]struct {
		text string
		want time.Duration
	}{
		"whole seconds":   {"vrrp_instance a {\n advert_int 2\n}\n", 8 * time.Second},
		"sub-second":      {"vrrp_instance a {\n advert_int 0.1\n}\n", 400 * time.Millisecond},
		"longest wins":    {"vrrp_instance a {\n advert_int 0.1\n}\nvrrp_instance b {\n advert_int 1\n}\n", 4 * time.Second},
		"keepalived's 1s": {"vrrp_instance a {\n priority 100\n}\n", 4 * time.Second},
		"unparsable":      {"vrrp_instance a {\n", 4 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if got := MasterDownOf([]byte(tc.text)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func socketName(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-", "(", "", ")", "").Replace(t.Name())
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return fmt.Sprintf("hacp-test-%d-%s", os.Getpid(), name)
}

func TestHandoverServerProtocol(t *testing.T) {
	sock := socketName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var retired []HandoverMode
	fail := true
	srv := &HandoverServer{Socket: sock, Log: testr.NewWithInterface(t, testr.Options{}), Retire: func(m HandoverMode) error {
		if fail {
			fail = false
			return fmt.Errorf("keepalived did not\nstop")
		}
		retired = append(retired, m)
		return nil
	}}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, l) }()
	if _, err := (&HandoverServer{Socket: sock}).Listen(); err == nil {
		t.Fatal("a second bootstrap agent could listen on the same socket")
	}

	ask := func(cmd string) (string, error) { return askBootstrap(ctx, sock, cmd) }
	if got, err := ask("status"); err != nil || got != "active" {
		t.Fatalf("status: %q, %v", got, err)
	}
	if _, err := ask("retire now"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("bad mode accepted: %v", err)
	}
	if _, err := ask("retire keep"); err == nil || !strings.Contains(err.Error(), "keepalived did not stop") {
		t.Fatalf("a failed retirement was not reported on one line: %v", err)
	}
	if got, _ := ask("status"); got != "active" || srv.Retired() {
		t.Fatal("a failed retirement counted as done")
	}
	if got, err := ask("retire release"); err != nil || got != "retired" {
		t.Fatalf("retire: %q, %v", got, err)
	}
	if got, err := ask("retire keep"); err != nil || got != "retired" {
		t.Fatalf("second retire: %q, %v", got, err)
	}
	if len(retired) != 1 || retired[0] != HandoverRelease {
		t.Fatalf("Retire calls after the failure: %v, want exactly [release]", retired)
	}
	if got, _ := ask("status"); got != "retired" || !srv.Retired() {
		t.Fatalf("status after retiring: %q", got)
	}
}

func TestHandoverProbeWithoutBootstrap(t *testing.T) {
	h := &Handover{Socket: socketName(t), Log: testr.NewWithInterface(t, testr.Options{})}
	if h.Probe(context.Background()) || h.Active() {
		t.Fatal("a bootstrap was found where none runs")
	}
	// Run returns at once when there is nothing to hand over.
	done := make(chan struct{})
	go func() { h.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run waited with no bootstrap agent")
	}
}

// Two VIPGroups on one node (the API VIP and an ingress VIP): the ingress group's agent, MASTER
// for its own VIP, must not retire the API group's bootstrap keepalived.
func TestHandoverSocketIsPerGroup(t *testing.T) {
	ns := fmt.Sprintf("t%d", os.Getpid())
	api, ingress := contract.HandoverSocket(ns, "kube-apiserver"), contract.HandoverSocket(ns, "ingress")
	if api == ingress || api != contract.HandoverSocket(ns, "kube-apiserver") {
		t.Fatalf("sockets %q and %q", api, ingress)
	}
	if other := contract.HandoverSocket("other", "kube-apiserver"); other == api {
		t.Fatalf("groups of two namespaces share %q", other)
	}
	long := strings.Repeat("n", 63)
	a, b := contract.HandoverSocket(long, strings.Repeat("a", 63)), contract.HandoverSocket(long, strings.Repeat("a", 62)+"b")
	if len(a) > 100 || len(b) > 100 || a == b {
		t.Fatalf("long names: %q (%d) and %q (%d): want distinct names that fit a unix socket address", a, len(a), b, len(b))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	retired := make(chan HandoverMode, 1)
	srv := &HandoverServer{Socket: api, Log: testr.NewWithInterface(t, testr.Options{}), Retire: func(m HandoverMode) error { retired <- m; return nil }}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, l) }()

	other := &Handover{Socket: ingress, Log: testr.NewWithInterface(t, testr.Options{}), Poll: 10 * time.Millisecond,
		Instances: func() map[string]contract.VRRPState { return map[string]contract.VRRPState{"ingress": "MASTER"} }, MasterDown: func() time.Duration { return time.Second }}
	if other.Probe(ctx) {
		t.Fatal("the ingress group's agent found the API group's bootstrap")
	}
	other.Run(ctx)
	select {
	case m := <-retired:
		t.Fatalf("the API group's bootstrap was retired (%s) by another group's agent", m)
	case <-time.After(200 * time.Millisecond):
	}
	own := &Handover{Socket: api, Log: testr.NewWithInterface(t, testr.Options{})}
	if !own.Probe(ctx) {
		t.Fatal("the API group's own agent does not find its bootstrap")
	}
}

// The DaemonSet's keepalived on the bootstrap node stays FAULT (its API server is not ready):
// another node takes the VIP, so the bootstrap keepalived must let it go, cleanly.
func TestHandoverReleasesWhenThisNodeStaysFault(t *testing.T) {
	sock := socketName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	retired := make(chan HandoverMode, 1)
	srv := &HandoverServer{Socket: sock, Log: testr.NewWithInterface(t, testr.Options{}), Retire: func(m HandoverMode) error { retired <- m; return nil }}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, l) }()
	const masterDown = 300 * time.Millisecond
	h := &Handover{Socket: sock, Log: testr.NewWithInterface(t, testr.Options{}), Poll: 10 * time.Millisecond,
		Instances: func() map[string]contract.VRRPState { return map[string]contract.VRRPState{"v4": "FAULT"} }, MasterDown: func() time.Duration { return masterDown }}
	if !h.Probe(ctx) {
		t.Fatal("no bootstrap found")
	}
	start := time.Now()
	h.Run(ctx)
	select {
	case m := <-retired:
		if m != HandoverRelease {
			t.Fatalf("retired with %s, want %s: a FAULT node must not keep the VIP", m, HandoverRelease)
		}
		if waited := time.Since(start); waited < masterDown {
			t.Fatalf("released after %s, before the master-down interval %s", waited, masterDown)
		}
	default:
		t.Fatal("the bootstrap keepalived was left holding the VIP while this node is FAULT")
	}
}

var advertMS int32 = 1000

// renderFor renders node's config of a group with the given members (first is highest), with
// the FIFO path the node's supervisor reads.
func renderFor(t testing.TB, node, checkCmd, fifo string, mode hacpv1.HealthCheckMode, members ...keepalived.Member) []byte {
	return renderInput(t, node, checkCmd, fifo, mode, false, []string{"198.51.100.100"}, members...)
}

func renderInput(t testing.TB, node, checkCmd, fifo string, mode hacpv1.HealthCheckMode, bootstrap bool, vips []string, members ...keepalived.Member) []byte {
	t.Helper()
	in := keepalived.Input{
		Namespace: "test", Name: "vip",
		Spec: hacpv1.VIPGroupSpec{
			VirtualIPs: vips, VirtualRouterID: 42, AdvertisementIntervalMilliseconds: advertMS, VRRPVersion: 3,
			Preemption: hacpv1.PreemptionEnabled,
			HealthCheck: hacpv1.HealthCheck{Mode: mode, APIServerPort: 6443, Path: "/readyz",
				IntervalSeconds: 1, TimeoutMilliseconds: 500, Fall: 1, Rise: 1},
		},
		Members:   members,
		Bootstrap: bootstrap,
		Options:   keepalived.Options{CheckCommand: checkCmd, ScriptUser: "root", NotifyFIFO: fifo, DefaultInterface: "eth0"},
	}
	cfg, err := keepalived.RenderNode(in, node)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Text
}

// node is one supervisor with its own directory, as one Pod on a host.
type node struct {
	sup    *Supervisor
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
	fifo   string
	out    *syncWriter
}

func startNode(t testing.TB, h *netlab.Host, dir string, log logr.Logger, adopt func() bool, config []byte) *node {
	t.Helper()
	n := &node{rec: &recorder{}, done: make(chan error, 1), fifo: filepath.Join(dir, "keepalived.fifo"), out: &syncWriter{w: &bytes.Buffer{}}}
	n.sup = &Supervisor{
		Keepalived: "keepalived", Dir: dir, FIFO: n.fifo, Interface: "eth0",
		Wrap: h.Wrap(), Report: n.rec.add, Log: log, KeepalivedOutput: n.out,
		StopTimeout: 5 * time.Second, Adopt: adopt,
	}
	var ctx context.Context
	ctx, n.cancel = context.WithCancel(context.Background())
	configs := make(chan []byte, 1)
	configs <- config
	go func() { n.done <- n.sup.Run(ctx, configs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived output (%s):\n%s", dir, n.out.w.String())
		}
		n.cancel()
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
		}
	})
	return n
}

// handoverLab is host h1 (and h2) with real keepalived, for the handover test and benchmark.
type handoverLab struct {
	quiet    bool // no agent logs (the benchmark)
	h1, h2   *netlab.Host
	agentBin string
	vip      netip.Addr
	vip6     netip.Addr // dual-stack labs only
	m1, m2   keepalived.Member
}

func newHandoverLab(t testing.TB) *handoverLab {
	lab := netlab.New(t, "ho")
	return &handoverLab{
		h1:       lab.AddHost("h1", "198.51.100.11"),
		h2:       lab.AddHost("h2", "198.51.100.12"),
		agentBin: testbin.Build(t, "./cmd/agent", "hacp-agent"),
		vip:      netip.MustParseAddr("198.51.100.100"),
		m1:       keepalived.Member{Name: "h1", Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.11")}},
		m2:       keepalived.Member{Name: "h2", Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.12")}},
	}
}

// newDualStackLab is newHandoverLab with IPv6 addresses on the hosts and a second VIP.
func newDualStackLab(t testing.TB) *handoverLab {
	lab := netlab.New(t, "hd")
	l := &handoverLab{
		h1:       lab.AddHost("h1", "198.51.100.11"),
		h2:       lab.AddHost("h2", "198.51.100.12"),
		agentBin: testbin.Build(t, "./cmd/agent", "hacp-agent"),
		vip:      netip.MustParseAddr("198.51.100.100"),
		vip6:     netip.MustParseAddr("2001:db8::100"),
	}
	for i, h := range []*netlab.Host{l.h1, l.h2} {
		v6 := fmt.Sprintf("2001:db8::%d", 11+i)
		// nodad: a tentative address cannot be keepalived's unicast source yet.
		if out, err := h.Command("ip", "addr", "add", v6+"/64", "dev", "eth0", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		m := keepalived.Member{Name: h.Name, Addresses: []netip.Addr{netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 11+i)), netip.MustParseAddr(v6)}}
		if i == 0 {
			l.m1 = m
		} else {
			l.m2 = m
		}
	}
	return l
}

func (l *handoverLab) vips() []string {
	if l.vip6.IsValid() {
		return []string{l.vip.String(), l.vip6.String()}
	}
	return []string{l.vip.String()}
}

// holdsAll reports whether h holds every VIP of the lab; ok is false when `ip` failed.
func (l *handoverLab) holdsAll(h *netlab.Host) bool {
	all, _ := l.lookupAll(h)
	return all
}

func (l *handoverLab) lookupAll(h *netlab.Host) (all, ok bool) {
	for _, v := range l.vips() {
		has, err := h.LookupAddr(netip.MustParseAddr(v))
		if err != nil {
			return false, false
		}
		if !has {
			return false, true
		}
	}
	return true, true
}

// bootstrap starts the bootstrap side on h1 the way `hacp-agent bootstrap` wires it. hostPrefix
// renders its VIP as /32 like any other config (the naive handover the benchmark compares with).
func (l *handoverLab) bootstrap(t testing.TB, sock string, hostPrefix bool) (*node, *HandoverServer) {
	dir := t.TempDir()
	conf := renderInput(t, "h1", l.agentBin, filepath.Join(dir, "keepalived.fifo"), hacpv1.HealthCheckWeighted, !hostPrefix, l.vips(), l.m1)
	b := startNode(t, l.h1, dir, l.log(t), nil, conf)
	srv := &HandoverServer{Socket: sock, Log: l.log(t), Retire: func(m HandoverMode) error {
		if m == HandoverKeep {
			b.sup.LeaveVIPsOnStop()
		}
		b.cancel()
		err := <-b.done
		b.done <- err // for the cleanup
		return err
	}}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = srv.Serve(ctx, ln) }()
	waitFor(t, "the bootstrap keepalived MASTER with the VIP", 10*time.Second, func() bool {
		return b.rec.last().State == "MASTER" && l.holdsAll(l.h1)
	})
	return b, srv
}

// daemonSet starts the DaemonSet side on h1 the way `hacp-agent run` wires it.
func (l *handoverLab) daemonSet(t testing.TB, sock string, members ...keepalived.Member) (*node, *Handover) {
	dir := t.TempDir()
	conf := renderInput(t, "h1", "/bin/true", filepath.Join(dir, "keepalived.fifo"), hacpv1.HealthCheckQuorumAware, false, l.vips(), members...)
	ho := &Handover{Socket: sock, Log: l.log(t), MasterDown: func() time.Duration { return MasterDownOf(conf) }}
	if !ho.Probe(context.Background()) {
		t.Fatal("the DaemonSet agent did not find the bootstrap agent")
	}
	d := startNode(t, l.h1, dir, l.log(t), ho.Active, conf)
	ho.Instances = d.sup.InstanceStates
	ho.OnRetired = func(m HandoverMode) {
		if m == HandoverKeep {
			d.sup.ExpectLeftoverVIPs()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ho.Run(ctx)
	return d, ho
}

func (l *handoverLab) log(t testing.TB) logr.Logger {
	if l.quiet {
		return logr.Discard()
	}
	return testr.NewWithInterface(t, testr.Options{})
}

// entries lists h's entries of every VIP of the lab.
func (l *handoverLab) entries(h *netlab.Host) []netip.Prefix {
	var all []netip.Prefix
	for _, v := range l.vips() {
		e, _ := h.AddrEntries(netip.MustParseAddr(v))
		all = append(all, e...)
	}
	return all
}

// watch samples h's VIP every 5ms; stop returns the longest absence and the sample count.
func (l *handoverLab) watch(h *netlab.Host) (stop func() (longest time.Duration, samples int)) {
	quit, done := make(chan struct{}), make(chan struct{})
	var longest time.Duration
	var samples int
	go func() {
		defer close(done)
		var since time.Time
		for {
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now()
			all, ok := l.lookupAll(h)
			if !ok {
				continue // `ip` failed: no observation
			}
			samples++
			if all {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = now
			}
			longest = max(longest, now.Sub(since)+5*time.Millisecond)
		}
	}()
	return func() (time.Duration, int) { close(quit); <-done; return longest, samples }
}

// TestHandoverWithRealKeepalived runs the bootstrap keepalived and the DaemonSet's keepalived
// side by side on one host, as the static Pod and the DaemonSet Pod do, and checks both ways the
// bootstrap retires: keeping the VIP (its successor is MASTER) and releasing it (another node is).
func TestHandoverWithRealKeepalived(t *testing.T) {
	l := newHandoverLab(t)
	h1, h2, m1, m2, vip := l.h1, l.h2, l.m1, l.m2, l.vip
	bootstrap := func(t *testing.T, sock string) (*node, *HandoverServer) { return l.bootstrap(t, sock, false) }
	daemonSet := l.daemonSet
	entries, watch := l.entries, l.watch

	t.Run("keep: the DaemonSet's keepalived is MASTER", func(t *testing.T) {
		sock := socketName(t)
		b, srv := bootstrap(t, sock)
		stop := watch(h1)
		d, ho := daemonSet(t, sock, m1, m2) // h2 runs nothing: h1 is MASTER after master-down
		waitFor(t, "the bootstrap retired", 15*time.Second, func() bool { return srv.Retired() && !ho.Active() })
		waitFor(t, "the DaemonSet's keepalived MASTER", 5*time.Second, func() bool { return d.rec.last().State == "MASTER" })
		time.Sleep(500 * time.Millisecond)
		longest, samples := stop()
		t.Logf("VIP on h1 in %d samples; longest absence %s", samples, longest)
		if longest > 0 {
			t.Fatalf("the VIP was absent from h1 for %s during the handover", longest)
		}
		if b.sup.running() {
			t.Fatal("the bootstrap keepalived still runs")
		}
		if b.rec.last().State != "STOP" {
			t.Fatalf("bootstrap state %q, want STOP", b.rec.last().State)
		}
		if got := entries(h1); len(got) != 2 {
			t.Fatalf("h1's entries of the VIP: %v, want the DaemonSet keepalived's /32 and the bootstrap's /31", got)
		}
		// The VIP is the DaemonSet keepalived's now: when it stops, the VIP goes with it.
		d.cancel()
		if err := <-d.done; err != nil {
			t.Fatal(err)
		}
		d.done <- nil
		if got := entries(h1); len(got) != 0 {
			t.Fatalf("VIP entries %v outlived the keepalived that took the VIP over: nobody owns them", got)
		}
	})

	t.Run("release: another node is MASTER", func(t *testing.T) {
		sock := socketName(t)
		// Host h2's node sorts first (priority 200) and runs its DaemonSet keepalived.
		h0 := keepalived.Member{Name: "h0", Addresses: m2.Addresses}
		h2dir := t.TempDir()
		startNode(t, h2, h2dir, l.log(t), nil, renderFor(t, "h0", "/bin/true", filepath.Join(h2dir, "keepalived.fifo"), hacpv1.HealthCheckQuorumAware, h0, m1))
		waitFor(t, "h2 holds the VIP", 10*time.Second, func() bool { return h2.HasAddr(vip) })
		b, srv := bootstrap(t, sock) // the bootstrap's multicast instance does not hear h2's unicast
		d, _ := daemonSet(t, sock, h0, m1)
		waitFor(t, "the bootstrap retired", 15*time.Second, srv.Retired)
		if got := d.rec.last().State; got != "BACKUP" {
			t.Fatalf("h1's DaemonSet keepalived is %s, want BACKUP", got)
		}
		waitFor(t, "h1 without the VIP", 5*time.Second, func() bool { return !h1.HasAddr(vip) })
		if !h2.HasAddr(vip) || b.sup.running() {
			t.Fatal("after a release h2 must hold the VIP alone and the bootstrap keepalived be gone")
		}
	})
}

// TestHandoverDualStack is the keep handover with an IPv4 and an IPv6 VIP. The kernel refuses a
// second IPv6 entry of an address, so the DaemonSet's keepalived adopts the bootstrap's /127
// (keepalived takes EEXIST as success); the agent removes it once that keepalived lets go.
func TestHandoverDualStack(t *testing.T) {
	l := newDualStackLab(t)
	sock := socketName(t)
	b, srv := l.bootstrap(t, sock, false)
	stop := l.watch(l.h1)
	d, _ := l.daemonSet(t, sock, l.m1, l.m2)
	waitFor(t, "the bootstrap retired", 20*time.Second, srv.Retired)
	waitFor(t, "the DaemonSet's keepalived MASTER", 5*time.Second, func() bool { return d.rec.last().State == "MASTER" })
	time.Sleep(500 * time.Millisecond)
	longest, samples := stop()
	t.Logf("both VIPs on h1 in %d samples; longest absence of either %s; entries %v", samples, longest, l.entries(l.h1))
	if longest > 0 {
		t.Fatalf("a VIP was absent from h1 for %s during the handover", longest)
	}
	if b.sup.running() {
		t.Fatal("the bootstrap keepalived still runs")
	}
	d.cancel()
	if err := <-d.done; err != nil {
		t.Fatal(err)
	}
	d.done <- nil
	if got := l.entries(l.h1); len(got) != 0 {
		t.Fatalf("VIP entries %v outlived the keepalived that took the VIPs over", got)
	}
}

// If this node's keepalived left MASTER between the handover decision and ExpectLeftoverVIPs, its
// event has passed: the bootstrap's leftover entry must go at once, not at the next transition.
func TestExpectLeftoverVIPsWhenNoLongerMaster(t *testing.T) {
	l := newHandoverLab(t)
	dir := t.TempDir()
	// A failing check: the instance is FAULT.
	conf := renderInput(t, "h1", "/bin/false", filepath.Join(dir, "keepalived.fifo"), hacpv1.HealthCheckQuorumAware, false, l.vips(), l.m1, l.m2)
	d := startNode(t, l.h1, dir, l.log(t), nil, conf)
	waitFor(t, "FAULT", 15*time.Second, func() bool { return d.rec.last().State == "FAULT" })
	l.h1.AddAddr(l.vip.String() + "/31") // what a bootstrap keepalived killed without cleanup leaves
	d.sup.ExpectLeftoverVIPs()
	if got := l.entries(l.h1); len(got) != 0 {
		t.Fatalf("entries %v stay on a node whose keepalived does not hold the VIP", got)
	}
}
