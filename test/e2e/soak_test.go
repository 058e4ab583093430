package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/joinmaterial"
	"hacp.dev/hacp/test/netlab"
	"hacp.dev/hacp/test/pki"
)

// The soak (`make soak`, and a short one in `make test`): the seed's hosts with real keepalived,
// the real agents and two real managers electing a leader, under a seeded random stream of
// overlapping faults, while six promises are checked all the time. See docs/soak.md for what
// each invariant means exactly and how its bounds are derived.

// SecondVIP is the extra address a spec change adds and removes.
var SecondVIP = netip.MustParseAddr("198.51.100.101")

const (
	// partitionDetect stands in for etcd noticing that a cut-off member lost quorum: the stand-in
	// API server of a partitioned host turns /readyz to 500 this long after the cut.
	partitionDetect = 2 * time.Second
	// convergeBound is how long the status may take to be true again after the last fault of a
	// round healed: a manager leader killed last waits out its lease (8 s) first.
	convergeBound = 60 * time.Second
	// holderPeriod is how often the VIP holders are sampled; statusPeriod the API objects.
	holderPeriod = 10 * time.Millisecond
	// leaderless is how long a killed leader leaves the managers without one: its lease
	// (8 s) plus two retries (1 s each, with client-go's jitter).
	leaderless = 10 * time.Second
	// keyRotation is how long a rotation's two writes (kubeadm-certs, then the join Secret) may
	// take on a loaded machine.
	keyRotation  = time.Second
	statusPeriod = 250 * time.Millisecond
)

type faultKind string

const (
	faultNodeLoss    faultKind = "hard node loss and return"
	faultKeepalived  faultKind = "keepalived SIGKILL"
	faultAgent       faultKind = "agent SIGKILL (its container dies, restarted)"
	faultReadyz      faultKind = "API server /readyz flapping"
	faultPartition   faultKind = "partition of one node"
	faultManager     faultKind = "manager leader killed"
	faultSpecChange  faultKind = "VIPGroup spec change"
	faultNodeDeleted faultKind = "Node deleted and re-added"
	faultBadSpec     faultKind = "bad spec applied and corrected"
	invOneHolder               = "1 one holder per VIP (QuorumAware)"
	invAbsence                 = "2 VIP absence within bound"
	invBadSpec                 = "3 bad spec changes nothing"
	invJoin                    = "4 join commands valid"
	invConverge                = "5 status converges and is true"
	invLeaks                   = "6 nothing leaks"
)

var allFaults = []faultKind{faultNodeLoss, faultKeepalived, faultAgent, faultReadyz, faultPartition, faultManager, faultSpecChange, faultNodeDeleted, faultBadSpec}

var allInvariants = []string{invOneHolder, invAbsence, invBadSpec, invJoin, invConverge, invLeaks}

// variant is a VIPGroup spec the soak rolls out.
type variant struct {
	profile Profile
	mode    hacpv1.HealthCheckMode
	second  bool // SecondVIP too
}

func (v variant) String() string {
	s := fmt.Sprintf("%s profile, %s", v.profile.Name, v.mode)
	if v.second {
		s += ", two VIPs"
	}
	return s
}

// detection is the longest a failure takes to show: the master-down interval (backups hear
// nothing) plus the health check's own detection (fall checks, the last one timing out).
func (v variant) detection() time.Duration {
	p := v.profile
	return p.MasterDown() + time.Duration(p.Fall)*time.Duration(p.CheckInterval)*time.Second + 500*time.Millisecond
}

// overlap is how long two connected hosts may both hold a VIP while it moves by preemption: the
// new master adds it as it sends its first advertisement and the old one drops it when it
// processes one, so both hold it for a delivery, or one advertisement interval more if that first
// one is lost or late (at least 100 ms, for a loaded machine's scheduling). It stays under the
// master-down interval (three intervals and more), so a split brain from lost advertisements
// cannot hide in it.
func (v variant) overlap() time.Duration {
	return max(100*time.Millisecond, time.Duration(v.profile.AdvertMilliseconds)*time.Millisecond)
}

// partitionBound is how long a partitioned host and the rest may both hold a VIP in
// QuorumAware mode: until the cut-off host's check fails, partitionDetect after the cut plus
// fall checks, one interval of phase and the last check's timeout.
func (v variant) partitionBound() time.Duration {
	p := v.profile
	return partitionDetect + time.Duration(p.Fall+1)*time.Duration(p.CheckInterval)*time.Second + 500*time.Millisecond
}

// hostState is the truth the soak keeps about a control-plane host: what it did to it and when.
type hostState struct {
	linkUp, agentUp, ready, nodeExists, partitioned bool
	linkSince, agentSince, readySince, nodeSince    time.Time
	busy                                            bool // a host fault is running on it
}

type event struct {
	at   time.Time
	text string
}

type violation struct {
	at        time.Time
	invariant string
	detail    string
}

type soak struct {
	t     *testing.T
	e     *Env
	seed  uint64
	rng   *rand.Rand
	start time.Time

	mu          sync.Mutex
	hosts       map[string]*hostState
	managers    []*Manager
	variants    []timedVariant // every spec rolled out, in order
	partitions  []window       // partitions, with their end (zero while running)
	leaderKills []time.Time
	badWindow   *badSpecWindow
	events      []event
	violations  []violation
	checks      map[string]int
	injected    map[faultKind]int
	configured  map[string]bool // the host runs its current config (file == Secret)
	converge    []time.Duration
	maxAbsence  time.Duration
	maxDual     time.Duration
	configTest  map[[32]byte]bool
	// extraKeepalived: the host had more than one keepalived main process at the last sample.
	extraKeepalived map[string]bool
	// keyBadSince: since when the published certificate key keyBad has not opened kubeadm-certs
	// (zero: it opens); keyReported: that was reported. Used by watchObjects only.
	keyBadSince time.Time
	keyBad      string
	keyReported bool
	// configChanged: when each host's running config last changed (seen by watchObjects).
	configChanged map[string]time.Time
	// keepalivedSince: when the host's keepalived was first seen serving (zero: not running).
	keepalivedSince map[string]time.Time
}

type timedVariant struct {
	at time.Time
	v  variant
}

type window struct{ from, to time.Time }

type badSpecWindow struct {
	from       time.Time
	gen        int64
	secretHash [32]byte
	observed   bool
	files      map[string][32]byte
}

func TestSoak(t *testing.T) {
	duration := 2 * time.Minute
	if v := os.Getenv("HACP_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HACP_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	seed := uint64(1)
	if v := os.Getenv("HACP_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HACP_SOAK_SEED: %v", err)
		}
		seed = n
	}
	e := NewEnv(t, WithoutManager)
	s := &soak{
		t: t, e: e, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		hosts: map[string]*hostState{}, checks: map[string]int{}, injected: map[faultKind]int{},
		configured: map[string]bool{}, configTest: map[[32]byte]bool{}, extraKeepalived: map[string]bool{}, keepalivedSince: map[string]time.Time{}, configChanged: map[string]time.Time{},
	}
	s.setUp()
	s.start = time.Now()
	stop := s.watch()
	round := 0
	for time.Since(s.start) < duration {
		round++
		s.round(round)
	}
	s.finish()
	stop()
	table := s.table(duration, round)
	fmt.Print(table)
	t.Log("\n" + table)
	if path := os.Getenv("HACP_SOAK_REPORT"); path != "" {
		if err := writeSoakReport(path, table, duration, seed); err != nil {
			t.Error(err)
		}
	}
	if len(s.violations) > 0 {
		s.explain()
		s.saveLogs()
		t.Fatalf("%d violations; reproduce with make soak SOAK_SEED=%d SOAK_DURATION=%s", len(s.violations), seed, duration)
	}
}

// setUp is the user's cluster at rest: two manager replicas, kubeadm's cluster-info and
// certificates, the control-plane mirror Pods kubelet would report, the VIPGroup and an
// HAControlPlane that rotates its join material every minute (tokenTTL 10m, rotateBefore 9m), and
// an agent on every control-plane host.
func (s *soak) setUp() {
	t, e := s.t, s.e
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.managers = []*Manager{e.StartManager("manager-a", true), e.StartManager("manager-b", true)}

	pkiDir := t.TempDir()
	if err := pki.WriteKubeadmPKI(pkiDir); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: %s\n    server: https://%s:6443\n", base64.StdEncoding.EncodeToString(caPEM), VIP)
	mustCreate(t, e.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"kubeconfig": kubeconfig}})
	for _, hs := range seedHosts {
		if !hs.controlPlane {
			continue
		}
		for _, comp := range []string{"etcd", "kube-apiserver"} {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: comp + "-" + hs.name, Namespace: "kube-system", Labels: map[string]string{"component": comp, "tier": "control-plane"}},
				Spec:       corev1.PodSpec{NodeName: hs.name, Containers: []corev1.Container{{Name: comp, Image: "registry.k8s.io/" + comp}}},
			}
			mustCreate(t, e.Client, p)
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			if err := e.Client.Status().Update(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}

	v := variant{profile: DefaultProfile, mode: hacpv1.HealthCheckQuorumAware}
	mustCreate(t, e.Client, applyVariant(vipGroupFor(v.profile, v.mode), v))
	ttl, lead, keyTTL := metav1.Duration{Duration: 10 * time.Minute}, metav1.Duration{Duration: 9 * time.Minute}, metav1.Duration{Duration: 10 * time.Minute}
	mustCreate(t, e.Client, &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: ns},
		Spec: hacpv1.HAControlPlaneSpec{
			ControlPlaneEndpoint: VIP.String() + ":6443",
			VIPGroupRef:          &hacpv1.LocalObjectReference{Name: "vip"},
			JoinMaterial: hacpv1.JoinMaterialSpec{TokenTTL: &ttl, RotateBefore: &lead, CertificateKeyTTL: &keyTTL,
				CertificateUpload: hacpv1.CertificateUploadEnabled, PKIDirectory: pkiDir},
		},
	})
	now := time.Now()
	s.variants = []timedVariant{{now, v}}
	for _, hs := range seedHosts {
		if !hs.controlPlane {
			continue
		}
		e.StartAgent(hs.name)
		s.hosts[hs.name] = &hostState{linkUp: true, agentUp: true, ready: true, nodeExists: true, linkSince: now, agentSince: now, readySince: now, nodeSince: now}
	}
	start := time.Now()
	for {
		if ok, why := s.converged(ctx); ok {
			break
		} else if time.Since(start) > 2*time.Minute {
			e.Dump()
			t.Fatalf("the cluster did not settle before the soak: %s", why)
		}
		time.Sleep(statusPeriod)
	}
	s.logf("settled in %s: %s", time.Since(start).Round(time.Millisecond), v)
}

func mustCreate(t *testing.T, c client.Client, o client.Object) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
}

// applyVariant sets v's timing, mode and VIPs on vg.
func applyVariant(vg *hacpv1.VIPGroup, v variant) *hacpv1.VIPGroup {
	vg.Spec.VRRPVersion, vg.Spec.AdvertisementIntervalMilliseconds = v.profile.Version, v.profile.AdvertMilliseconds
	vg.Spec.HealthCheck.IntervalSeconds, vg.Spec.HealthCheck.Fall = v.profile.CheckInterval, v.profile.Fall
	vg.Spec.HealthCheck.Mode = v.mode
	vg.Spec.VirtualIPs = []string{VIP.String()}
	if v.second {
		vg.Spec.VirtualIPs = append(vg.Spec.VirtualIPs, SecondVIP.String())
	}
	return vg
}

func (s *soak) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.events = append(s.events, event{time.Now(), msg})
	s.mu.Unlock()
	s.t.Log(msg)
}

func (s *soak) violate(inv, format string, args ...any) {
	v := violation{time.Now(), inv, fmt.Sprintf(format, args...)}
	s.mu.Lock()
	s.violations = append(s.violations, v)
	s.mu.Unlock()
	s.t.Logf("VIOLATION %s: %s (seed %d)", inv, v.detail, s.seed)
}

func (s *soak) check(inv string) {
	s.mu.Lock()
	s.checks[inv]++
	s.mu.Unlock()
}

// planned is one fault of a round, with every random choice made up front so that the seed alone
// decides the schedule.
type planned struct {
	kind     faultKind
	host     string
	offset   time.Duration
	duration time.Duration
	flaps    []time.Duration // readyz: time in each state, starting with not ready
	variant  variant         // spec change
	bad      int             // bad spec: which one
}

// round plans one to three overlapping faults, runs them, and measures how long the status
// takes to be true again once the last one healed.
func (s *soak) round(n int) {
	var plan []planned
	used := map[string]bool{}
	cluster := map[string]bool{}
	for k := 1 + s.rng.IntN(3); k > 0; k-- {
		p := planned{kind: allFaults[s.rng.IntN(len(allFaults))], offset: time.Duration(s.rng.IntN(8000)) * time.Millisecond,
			duration: time.Duration(2000+s.rng.IntN(13000)) * time.Millisecond}
		switch p.kind {
		case faultManager:
			if cluster["manager"] {
				continue
			}
			cluster["manager"] = true
		case faultSpecChange, faultBadSpec:
			if cluster["spec"] {
				continue
			}
			cluster["spec"] = true
			p.bad = s.rng.IntN(2)
			p.variant = variant{profile: []Profile{DefaultProfile, FastProfile}[s.rng.IntN(2)],
				mode: []hacpv1.HealthCheckMode{hacpv1.HealthCheckQuorumAware, hacpv1.HealthCheckWeighted}[s.rng.IntN(2)], second: s.rng.IntN(2) == 0}
		default:
			free := []string{}
			for _, h := range []string{"h1", "h2", "h3"} {
				if !used[h] {
					free = append(free, h)
				}
			}
			if len(free) == 0 {
				continue
			}
			p.host = free[s.rng.IntN(len(free))]
			used[p.host] = true
			for d := time.Duration(0); d < p.duration; {
				step := time.Duration(300+s.rng.IntN(2700)) * time.Millisecond
				p.flaps = append(p.flaps, step)
				d += step
			}
		}
		plan = append(plan, p)
	}
	var wg sync.WaitGroup
	for _, p := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(p.offset)
			s.inject(p)
		}()
	}
	wg.Wait()
	healed := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), convergeBound+10*time.Second)
	defer cancel()
	var why string
	for {
		s.check(invConverge)
		ok, w := s.converged(ctx)
		if ok {
			d := time.Since(healed)
			s.mu.Lock()
			s.converge = append(s.converge, d)
			s.mu.Unlock()
			s.logf("round %d: status true %s after the last fault healed", n, d.Round(time.Millisecond))
			break
		}
		why = w
		if time.Since(healed) > convergeBound {
			s.violate(invConverge, "round %d: status not true %s after the last fault healed: %s", n, convergeBound, why)
			s.repair()
			break
		}
		time.Sleep(statusPeriod)
	}
	time.Sleep(time.Duration(s.rng.IntN(3000)) * time.Millisecond)
}

// repair brings every host back after a violation so that the next round starts from a whole
// cluster (the violation is recorded; the soak goes on to find others).
func (s *soak) repair() {
	for name, hs := range s.snapshot() {
		h := s.e.Hosts[name]
		if !hs.agentUp {
			_ = s.e.startAgent(name)
			s.set(name, func(st *hostState) { st.agentUp, st.agentSince = true, time.Now() })
		}
		if !hs.linkUp {
			_ = h.SetLink(true)
			s.set(name, func(st *hostState) { st.linkUp, st.linkSince = true, time.Now() })
		}
	}
}

func (s *soak) set(host string, f func(*hostState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.hosts[host])
}

func (s *soak) snapshot() map[string]hostState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]hostState{}
	for k, v := range s.hosts {
		out[k] = *v
	}
	return out
}

// inject runs one fault to its end.
func (s *soak) inject(p planned) {
	s.mu.Lock()
	s.injected[p.kind]++
	s.mu.Unlock()
	e := s.e
	h := e.Hosts[p.host]
	switch p.kind {
	case faultNodeLoss:
		s.logf("%s: power off (link cut, agent and keepalived killed) for %s", p.host, p.duration)
		s.set(p.host, func(st *hostState) { st.linkUp, st.agentUp = false, false })
		s.must(h.SetLink(false))
		e.KillAgentHard(p.host)
		time.Sleep(p.duration)
		// A rebooted machine has none of the addresses keepalived held.
		for _, vip := range []netip.Addr{VIP, SecondVIP} {
			s.must(h.DelAddr(vip))
		}
		s.must(h.SetLink(true))
		s.must(e.startAgent(p.host))
		now := time.Now()
		s.set(p.host, func(st *hostState) { st.linkUp, st.linkSince, st.agentUp, st.agentSince = true, now, true, now })
		s.logf("%s: booted", p.host)
	case faultKeepalived:
		s.logf("%s: keepalived SIGKILL", p.host)
		killKeepalived(h)
		// The agent restarts it (after its restart delay): the host is healthy again once
		// keepalived is seen running.
		s.mu.Lock()
		s.keepalivedSince[p.host] = time.Time{}
		s.mu.Unlock()
	case faultAgent:
		s.logf("%s: agent container killed, kubelet restarts it in %s", p.host, p.duration/4)
		s.set(p.host, func(st *hostState) { st.agentUp = false })
		e.KillAgentHard(p.host)
		time.Sleep(p.duration / 4)
		s.must(e.startAgent(p.host))
		s.set(p.host, func(st *hostState) { st.agentUp, st.agentSince = true, time.Now() })
	case faultReadyz:
		s.logf("%s: /readyz flapping %d times over %s", p.host, len(p.flaps), p.duration)
		for i, d := range p.flaps {
			s.setReady(p.host, i%2 == 1)
			time.Sleep(d)
		}
		s.setReady(p.host, true)
	case faultPartition:
		s.logf("%s: partitioned for %s", p.host, p.duration)
		s.mu.Lock()
		s.partitions = append(s.partitions, window{from: time.Now()})
		idx := len(s.partitions) - 1
		s.hosts[p.host].partitioned = true
		s.mu.Unlock()
		s.must(h.SetLink(false))
		time.Sleep(partitionDetect)
		s.setReady(p.host, false)
		time.Sleep(p.duration)
		s.must(h.SetLink(true))
		s.setReady(p.host, true)
		now := time.Now()
		s.mu.Lock()
		s.partitions[idx].to = now
		s.hosts[p.host].partitioned, s.hosts[p.host].linkSince = false, now
		s.mu.Unlock()
		s.logf("%s: partition healed", p.host)
	case faultManager:
		s.mu.Lock()
		var leader *Manager
		idx := -1
		for i, m := range s.managers {
			if !m.Stopped() && m.Leading() {
				leader, idx = m, i
			}
		}
		s.mu.Unlock()
		if leader == nil {
			s.logf("manager: no leader to kill")
			return
		}
		s.logf("%s (leader) killed; its replica restarts in %s", leader.Name, p.duration)
		s.mu.Lock()
		s.leaderKills = append(s.leaderKills, time.Now())
		s.mu.Unlock()
		leader.Stop()
		time.Sleep(p.duration)
		m := e.StartManager(leader.Name, true)
		s.mu.Lock()
		s.managers[idx] = m
		s.mu.Unlock()
		s.logf("%s restarted", leader.Name)
	case faultSpecChange:
		s.logf("VIPGroup spec: %s", p.variant)
		s.mu.Lock()
		s.variants = append(s.variants, timedVariant{time.Now(), p.variant})
		s.mu.Unlock()
		s.must(s.updateVIPGroup(func(vg *hacpv1.VIPGroup) { applyVariant(vg, p.variant) }))
	case faultNodeDeleted:
		s.logf("Node %s deleted; kubelet registers it again in %s", p.host, p.duration/2)
		s.set(p.host, func(st *hostState) { st.nodeExists = false })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.must(e.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: p.host}}))
		cancel()
		time.Sleep(p.duration / 2)
		s.must(s.registerNode(p.host))
		s.set(p.host, func(st *hostState) { st.nodeExists, st.nodeSince = true, time.Now() })
	case faultBadSpec:
		s.badSpec(p)
	}
}

func (s *soak) must(err error) {
	if err != nil {
		s.logf("fault injection: %v", err)
	}
}

func (s *soak) setReady(host string, ready bool) {
	content := "lost etcd quorum"
	if ready {
		content = "ok"
	}
	s.must(os.WriteFile(s.e.Hosts[host].readyFile, []byte(content), 0o644))
	s.set(host, func(st *hostState) {
		if st.ready != ready {
			st.ready, st.readySince = ready, time.Now()
		}
	})
}

// registerNode is kubelet registering its Node again.
func (s *soak) registerNode(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, hs := range seedHosts {
		if hs.name == name {
			return s.e.registerNode(ctx, name, hs.ip, hs.controlPlane)
		}
	}
	return fmt.Errorf("no host %s", name)
}

func (s *soak) updateVIPGroup(f func(*hacpv1.VIPGroup)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var vg hacpv1.VIPGroup
		if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip"}, &vg); err != nil {
			return err
		}
		f(&vg)
		err := s.e.Client.Update(ctx, &vg)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

// badSpec applies a spec that passes the CRD's validation but cannot be rendered, holds it,
// and puts the good one back. While it stands, the rendered configs and what runs on every host
// must not change (checked by watch).
func (s *soak) badSpec(p planned) {
	bad := []struct {
		what string
		f    func(*hacpv1.VIPGroup)
	}{
		{"a passwordSecretRef to a Secret that does not exist", func(vg *hacpv1.VIPGroup) {
			vg.Spec.PasswordSecretRef = &hacpv1.SecretKeyReference{Name: "missing"}
		}},
		{"a static member with a node's address", func(vg *hacpv1.VIPGroup) {
			vg.Spec.StaticMembers = []hacpv1.StaticMember{{Name: "seed", Address: "198.51.100.12"}}
		}},
	}[p.bad]
	s.logf("VIPGroup: bad spec (%s) for %s", bad.what, p.duration)
	var gen int64
	err := s.updateVIPGroup(func(vg *hacpv1.VIPGroup) {
		bad.f(vg)
		gen = vg.Generation + 1
	})
	if apierrors.IsInvalid(err) {
		// The earliest refusal there is (a password with VRRPv3 is a CEL rule): nothing reached
		// the manager, so nothing that runs can have changed.
		s.check(invBadSpec)
		s.logf("VIPGroup: the bad spec was refused by the API server: %v", err)
		return
	}
	s.must(err)
	s.mu.Lock()
	s.badWindow = &badSpecWindow{gen: gen, from: time.Now()}
	s.mu.Unlock()
	time.Sleep(p.duration)
	s.mu.Lock()
	observed, from := s.badWindow.observed, s.badWindow.from
	s.badWindow = nil
	noLeader := false
	for _, k := range s.leaderKills {
		if k.Add(leaderless).After(from) {
			noLeader = true
		}
	}
	s.mu.Unlock()
	if !observed && noLeader {
		s.logf("the bad spec (generation %d) was not seen: no manager led while it stood", gen)
	} else if !observed {
		s.violate(invBadSpec, "the bad spec (generation %d) was never reported as ConfigValid=False in %s", gen, p.duration)
	}
	s.must(s.updateVIPGroup(func(vg *hacpv1.VIPGroup) { vg.Spec.PasswordSecretRef, vg.Spec.StaticMembers = nil, nil }))
	s.logf("VIPGroup: good spec back")
}

// current is the variant rolled out last, and the largest bounds of every variant rolled out
// within the last minute (a rollout in progress runs both).
func (s *soak) bounds(now time.Time) (cur variant, detection, partition, overlap time.Duration, quorumAwareSince time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur = s.variants[len(s.variants)-1].v
	for i := len(s.variants) - 1; i >= 0; i-- {
		tv := s.variants[i]
		detection = max(detection, tv.v.detection())
		partition = max(partition, tv.v.partitionBound())
		overlap = max(overlap, tv.v.overlap())
		if tv.at.Before(now.Add(-time.Minute)) {
			break
		}
	}
	// QuorumAware since the last change to it, plus a minute for the rollout.
	for i := len(s.variants) - 1; i >= 0; i-- {
		if s.variants[i].v.mode != hacpv1.HealthCheckQuorumAware {
			break
		}
		quorumAwareSince = s.variants[i].at
	}
	if !quorumAwareSince.IsZero() && quorumAwareSince != s.variants[0].at {
		quorumAwareSince = quorumAwareSince.Add(time.Minute)
	}
	return
}

// healthyFrom is the earliest moment since which some control-plane host has been healthy and
// connected without a break (zero when none is): link up and not partitioned, its agent and
// keepalived running (keepalived as first seen, less one sampling period), its API server ready
// for the check's rise, its Node present and its current config applied.
func (s *soak) healthyFrom(now time.Time, cur variant) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best time.Time
	rise := time.Duration(2) * time.Duration(cur.profile.CheckInterval) * time.Second
	for name, st := range s.hosts {
		ka := s.keepalivedSince[name]
		if !st.linkUp || st.partitioned || !st.agentUp || !st.ready || !st.nodeExists || !s.configured[name] || ka.IsZero() {
			continue
		}
		since := st.linkSince
		// A host counts from its last config change: a reload (new peers, a new profile)
		// re-reads the instance, and the bound is not meant to cover its re-election.
		for _, t := range []time.Time{ka.Add(-statusPeriod), s.configChanged[name].Add(-statusPeriod), st.readySince.Add(rise), st.nodeSince} {
			if t.After(since) {
				since = t
			}
		}
		if since.After(now) {
			continue
		}
		if best.IsZero() || since.Before(best) {
			best = since
		}
	}
	return best
}

// watch starts the checkers; the returned func stops them.
func (s *soak) watch() func() {
	probers := map[string]*netlab.Prober{}
	for name, h := range s.e.Hosts {
		p, err := h.Prober()
		if err != nil {
			s.t.Fatal(err)
		}
		probers[name] = p
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.watchHolders(stop, probers)
	}()
	go func() {
		defer wg.Done()
		s.watchObjects(stop)
	}()
	return func() {
		close(stop)
		wg.Wait()
	}
}

// watchHolders samples every host's eth0 every holderPeriod: invariants 1 and 2.
func (s *soak) watchHolders(stop chan struct{}, probers map[string]*netlab.Prober) {
	tick := time.NewTicker(holderPeriod)
	defer tick.Stop()
	var absentSince time.Time
	absentReported := false
	dualSince := map[netip.Addr]time.Time{}
	dualReported := map[netip.Addr]bool{}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		holders := map[netip.Addr][]string{}
		ok := true
		for name, p := range probers {
			addrs, err := p.Addrs()
			if err != nil {
				ok = false
				break
			}
			for _, a := range addrs {
				if a == VIP || a == SecondVIP {
					holders[a] = append(holders[a], name)
				}
			}
		}
		if !ok {
			continue
		}
		cur, detection, partition, overlap, qaSince := s.bounds(now)
		// 1: one holder per VIP in QuorumAware mode; under a partition, for partitionBound.
		for _, vip := range []netip.Addr{VIP, SecondVIP} {
			s.check(invOneHolder)
			if len(holders[vip]) < 2 {
				delete(dualSince, vip)
				delete(dualReported, vip)
				continue
			}
			if dualSince[vip].IsZero() {
				dualSince[vip] = now
			}
			d := now.Sub(dualSince[vip]) + holderPeriod
			s.mu.Lock()
			s.maxDual = max(s.maxDual, d)
			inPartition := false
			for _, w := range s.partitions {
				if !dualSince[vip].Before(w.from) && (w.to.IsZero() || !dualSince[vip].After(w.to.Add(partition))) {
					inPartition = true
				}
			}
			s.mu.Unlock()
			allowed := overlap
			if inPartition {
				allowed = partition
			}
			if !qaSince.IsZero() && dualSince[vip].After(qaSince) && d > allowed && !dualReported[vip] {
				sort.Strings(holders[vip])
				s.violate(invOneHolder, "%s held by %v for %s (allowed %s)", vip, holders[vip], d, allowed)
				dualReported[vip] = true // one violation per run
			}
		}
		// 2: the endpoint VIP is absent no longer than detection while a healthy node exists.
		s.check(invAbsence)
		if len(holders[VIP]) > 0 {
			absentSince, absentReported = time.Time{}, false
			continue
		}
		if absentSince.IsZero() {
			absentSince = now
		}
		s.mu.Lock()
		s.maxAbsence = max(s.maxAbsence, now.Sub(absentSince)+holderPeriod)
		s.mu.Unlock()
		from := s.healthyFrom(now, cur)
		if from.IsZero() {
			continue
		}
		if from.Before(absentSince) {
			from = absentSince
		}
		if d := now.Sub(from); d > detection && !absentReported {
			s.violate(invAbsence, "%s absent for %s while a healthy control-plane node existed (bound %s, %s)", VIP, d, detection, cur)
			absentReported = true
		}
	}
}

// watchObjects reads the API and the hosts' files every statusPeriod: invariants 3, 4 and 6,
// and whether each host runs its current config.
func (s *soak) watchObjects(stop chan struct{}) {
	tick := time.NewTicker(statusPeriod)
	defer tick.Stop()
	joinSeen := false
	lastFiles := map[string][32]byte{}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var cfg corev1.Secret
		if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip-keepalived"}, &cfg); err != nil {
			cancel()
			continue
		}
		files := map[string][32]byte{}
		running := map[string][]byte{}
		for name := range s.snapshot() {
			b, err := os.ReadFile(filepath.Join(s.e.Hosts[name].dir, "keepalived.conf"))
			if err != nil {
				continue
			}
			files[name] = sha256.Sum256(b)
			running[name] = b
		}
		s.mu.Lock()
		for name := range s.hosts {
			want, ok := cfg.Data[name]
			s.configured[name] = ok && bytes.Equal(want, running[name])
			if prev, seen := lastFiles[name]; !seen || prev != files[name] {
				s.configChanged[name] = time.Now()
			}
			lastFiles[name] = files[name]
		}
		s.mu.Unlock()
		s.checkRunningConfigs(running)
		s.checkBadSpec(ctx, cfg, files)
		if s.checkJoin(ctx, joinSeen) {
			joinSeen = true
		}
		s.checkLeaks()
		cancel()
	}
}

// checkRunningConfigs: every config a host runs passed keepalived's own --config-test (each
// distinct text is tested once, in its host's namespace).
func (s *soak) checkRunningConfigs(running map[string][]byte) {
	for name, b := range running {
		sum := sha256.Sum256(b)
		s.mu.Lock()
		_, seen := s.configTest[sum]
		s.mu.Unlock()
		if seen {
			continue
		}
		s.check(invBadSpec)
		f, err := os.CreateTemp("", "soak-conf-*")
		if err != nil {
			continue
		}
		_, _ = f.Write(b)
		_ = f.Close()
		out, err := exec.Command("ip", "netns", "exec", s.e.Hosts[name].NS, "keepalived", "--config-test", "-f", f.Name()).CombinedOutput()
		_ = os.Remove(f.Name())
		s.mu.Lock()
		s.configTest[sum] = err == nil
		s.mu.Unlock()
		if err != nil {
			s.violate(invBadSpec, "%s runs a config that fails keepalived --config-test: %v: %s", name, err, out)
		}
	}
}

func hashData(data map[string][]byte) [32]byte {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%d\x00", k, len(data[k]))
		h.Write(data[k])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// checkBadSpec: once the manager has seen a bad spec (ConfigValid False for its generation), the
// rendered configs and every host's running config stay what they were until it is corrected.
func (s *soak) checkBadSpec(ctx context.Context, cfg corev1.Secret, files map[string][32]byte) {
	s.mu.Lock()
	w := s.badWindow
	s.mu.Unlock()
	if w == nil {
		return
	}
	s.check(invBadSpec)
	if !w.observed {
		var vg hacpv1.VIPGroup
		if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip"}, &vg); err != nil {
			return
		}
		c := meta.FindStatusCondition(vg.Status.Conditions, hacpv1.ConditionConfigValid)
		if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != w.gen {
			return
		}
		s.mu.Lock()
		w.observed, w.secretHash, w.files = true, hashData(cfg.Data), files
		s.mu.Unlock()
		return
	}
	if hashData(cfg.Data) != w.secretHash {
		s.violate(invBadSpec, "the rendered configs changed while a bad spec (generation %d) stood", w.gen)
		s.mu.Lock()
		w.secretHash = hashData(cfg.Data)
		s.mu.Unlock()
	}
	s.mu.Lock()
	var changed []string
	for name, sum := range files {
		if before, ok := w.files[name]; ok && before != sum {
			changed = append(changed, name)
			w.files[name] = sum
		}
	}
	s.mu.Unlock()
	for _, name := range changed {
		s.violate(invBadSpec, "%s's running config changed while a bad spec (generation %d) stood", name, w.gen)
	}
}

var (
	workerJoin = regexp.MustCompile(`^kubeadm join ` + regexp.QuoteMeta(VIP.String()) + `:6443 --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$`)
	cpJoin     = regexp.MustCompile(`^kubeadm join ` + regexp.QuoteMeta(VIP.String()) + `:6443 --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash sha256:[0-9a-f]{64} --control-plane --certificate-key ([0-9a-f]{64})$`)
)

// checkJoin: from the first publication on, both join commands are in kubeadm's format, name a
// token that exists and has not expired, and the certificate key opens kubeadm-certs. At most
// two of hacp's join tokens are live. Reports whether the commands were there.
func (s *soak) checkJoin(ctx context.Context, seen bool) bool {
	var worker, cp corev1.Secret
	errW := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "kubernetes-join"}, &worker)
	errC := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "kubernetes-join-control-plane"}, &cp)
	if !seen && (errW != nil || errC != nil) {
		return false
	}
	s.check(invJoin)
	if errW != nil || errC != nil {
		s.violate(invJoin, "join Secrets: %v, %v", errW, errC)
		return true
	}
	for _, c := range []struct {
		cmd string
		re  *regexp.Regexp
	}{{string(worker.Data["workerJoinCommand"]), workerJoin}, {string(cp.Data["controlPlaneJoinCommand"]), cpJoin}} {
		m := c.re.FindStringSubmatch(c.cmd)
		if m == nil {
			s.violate(invJoin, "join command not in kubeadm's format: %q", redact(c.cmd))
			continue
		}
		var tok corev1.Secret
		if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "bootstrap-token-" + m[1]}, &tok); err != nil {
			s.violate(invJoin, "the join command's token %s: %v", m[1], err)
			continue
		}
		t, err := joinmaterial.TokenFromSecret(&tok)
		if err != nil || t.Secret != m[2] || !t.Expires.After(time.Now()) {
			s.violate(invJoin, "the join command's token %s is not valid (err %v, expires %s)", m[1], err, t.Expires)
		}
		if len(m) == 4 {
			var certs corev1.Secret
			if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &certs); err != nil {
				s.violate(invJoin, "kubeadm-certs: %v", err)
			} else if !joinmaterial.Opens(m[3], certs.Data) {
				s.keyMismatch(m[3])
			} else {
				s.keyBadSince = time.Time{}
			}
		}
	}
	var tokens corev1.SecretList
	if err := s.e.Client.List(ctx, &tokens, client.InNamespace("kube-system"), client.MatchingLabels{"hacp.dev/token-role": "join"}); err == nil {
		live := 0
		for i := range tokens.Items {
			if t, err := joinmaterial.TokenFromSecret(&tokens.Items[i]); err == nil && t.Expires.After(time.Now()) {
				live++
			}
		}
		s.check(invLeaks)
		if live > 2 {
			s.violate(invLeaks, "%d live hacp join tokens", live)
		}
	}
	return true
}

// keyMismatch judges a published certificate key that does not open kubeadm-certs. kubeadm-certs
// and the join Secret are two objects: a key rotation re-encrypts the first, then publishes the
// key in the second, back to back. A reader between the two writes sees the old key for a moment
// (allowed: keyRotation); a leader that dies between them leaves it to the next leader
// (allowed while leaderless after a kill).
func (s *soak) keyMismatch(key string) {
	now := time.Now()
	if s.keyBadSince.IsZero() || s.keyBad != key {
		s.keyBadSince, s.keyBad, s.keyReported = now, key, false
	}
	allowed := keyRotation
	s.mu.Lock()
	for _, k := range s.leaderKills {
		if k.Add(leaderless).After(s.keyBadSince) && !k.After(now) {
			allowed = leaderless + keyRotation
		}
	}
	s.mu.Unlock()
	if d := now.Sub(s.keyBadSince); d > allowed && !s.keyReported {
		s.violate(invJoin, "the published certificate key has not opened kubeadm-certs for %s (allowed %s)", d, allowed)
		s.keyReported = true
	}
}

// redact keeps a join command's shape without its secrets, for messages.
func redact(cmd string) string {
	return regexp.MustCompile(`\.[a-z0-9]{16}|[0-9a-f]{64}`).ReplaceAllString(cmd, "…")
}

// checkLeaks: at most one keepalived (a main process and its VRRP child) per host.
func (s *soak) checkLeaks() {
	for name, h := range s.e.Hosts {
		if name == "h4" {
			continue
		}
		s.check(invLeaks)
		mains := 0
		pids := map[string]bool{}
		for _, pid := range keepalivedPIDs(h) {
			pids[pid] = true
		}
		for pid := range pids {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				continue
			}
			// The agent's (and this test's) `keepalived --config-test` runs are not keepalived
			// serving.
			if cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline"); bytes.Contains(cmdline, []byte("--config-test")) {
				continue
			}
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(f) > 1 && !pids[f[1]] {
				mains++
			}
		}
		// Killing a container's processes one by one (the harness's SIGKILLs) orphans the VRRP
		// child for a moment; a second keepalived that serves is still there a sample later.
		if mains > 1 && s.extraKeepalived[name] {
			s.violate(invLeaks, "%s runs %d keepalived main processes", name, mains)
		}
		s.extraKeepalived[name] = mains > 1
		s.mu.Lock()
		switch {
		case mains == 0:
			s.keepalivedSince[name] = time.Time{}
		case s.keepalivedSince[name].IsZero():
			s.keepalivedSince[name] = time.Now()
		}
		s.mu.Unlock()
	}
}

// converged: the VIPGroup is Ready for its generation and names the one host that holds the
// VIP, each member reports the current config; the HAControlPlane is Available with 3/3 members.
func (s *soak) converged(ctx context.Context) (bool, string) {
	var vg hacpv1.VIPGroup
	var hcp hacpv1.HAControlPlane
	if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "vip"}, &vg); err != nil {
		return false, err.Error()
	}
	if err := s.e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "kubernetes"}, &hcp); err != nil {
		return false, err.Error()
	}
	holders := s.e.Holders()
	ready := meta.FindStatusCondition(vg.Status.Conditions, hacpv1.ConditionReady)
	avail := meta.FindStatusCondition(hcp.Status.Conditions, hacpv1.ConditionAvailable)
	why := fmt.Sprintf("VIPGroup gen %d observed %d Ready %v master %q, VIP on %v; HAControlPlane Available %v members %s",
		vg.Generation, vg.Status.ObservedGeneration, condStatus(ready), vg.Status.Master, holders, condStatus(avail), hcp.Status.ReadyMembers)
	if vg.Status.ObservedGeneration != vg.Generation || ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != vg.Generation {
		return false, why
	}
	if len(holders) != 1 || vg.Status.Master != holders[0] {
		return false, why
	}
	if avail == nil || avail.Status != metav1.ConditionTrue || hcp.Status.ReadyMembers != "3/3" || hcp.Status.ObservedGeneration != hcp.Generation {
		return false, why
	}
	return true, why
}

func condStatus(c *metav1.Condition) string {
	if c == nil {
		return "none"
	}
	return string(c.Status) + "/" + c.Reason
}

// finish heals what is left and checks that nothing leaked: after the agents stop, no keepalived
// runs and no host holds a VIP.
func (s *soak) finish() {
	for name := range s.snapshot() {
		s.e.StopAgent(name)
		s.check(invLeaks)
		h := s.e.Hosts[name]
		if pids := keepalivedPIDs(h); len(pids) > 0 {
			s.violate(invLeaks, "%s: keepalived %v still runs after its agent stopped", name, pids)
		}
	}
	for name, h := range s.e.Hosts {
		for _, vip := range []netip.Addr{VIP, SecondVIP} {
			s.check(invLeaks)
			if h.HasAddr(vip) {
				s.violate(invLeaks, "%s still holds %s after its agent stopped", name, vip)
			}
		}
	}
}

// saveLogs keeps every agent's whole output (keepalived's included) for the failure's analysis.
func (s *soak) saveLogs() {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hacp-soak-%d", s.seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Log(err)
		return
	}
	for name, h := range s.e.Hosts {
		_ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(h.agentOut.String()), 0o644)
	}
	var b strings.Builder
	for _, ev := range s.events {
		fmt.Fprintf(&b, "%s +%s %s\n", ev.at.Format("15:04:05.000"), ev.at.Sub(s.start).Round(time.Millisecond), ev.text)
	}
	_ = os.WriteFile(filepath.Join(dir, "schedule.log"), []byte(b.String()), 0o644)
	s.t.Logf("agents' output and the schedule: %s", dir)
}

// explain prints each violation with the schedule around it.
func (s *soak) explain() {
	for _, v := range s.violations {
		var b strings.Builder
		fmt.Fprintf(&b, "%s at +%s (%s): %s\n", v.invariant, v.at.Sub(s.start).Round(time.Millisecond), v.at.Format("15:04:05.000"), v.detail)
		for _, e := range s.events {
			if e.at.After(v.at.Add(-30*time.Second)) && e.at.Before(v.at.Add(5*time.Second)) {
				fmt.Fprintf(&b, "  +%s %s\n", e.at.Sub(s.start).Round(time.Millisecond), e.text)
			}
		}
		s.t.Log(b.String())
	}
}

// table is the run's summary, as docs/benchmarks.md records it.
func (s *soak) table(d time.Duration, rounds int) string {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "soak %s, seed %d, %d rounds of 1-3 overlapping faults\n\n", d, s.seed, rounds)
	fmt.Fprintln(w, "fault\tinjected")
	for _, k := range allFaults {
		fmt.Fprintf(w, "%s\t%d\n", k, s.injected[k])
	}
	fmt.Fprintln(w, "\ninvariant\tchecks\tviolations")
	for _, inv := range allInvariants {
		n := 0
		for _, v := range s.violations {
			if v.invariant == inv {
				n++
			}
		}
		fmt.Fprintf(w, "%s\t%d\t%d\n", inv, s.checks[inv], n)
	}
	conv := append([]time.Duration(nil), s.converge...)
	sort.Slice(conv, func(i, j int) bool { return conv[i] < conv[j] })
	pct := func(p float64) string {
		if len(conv) == 0 {
			return "-"
		}
		return conv[min(len(conv)-1, int(p*float64(len(conv))))].Round(10 * time.Millisecond).String()
	}
	fmt.Fprintf(w, "\nlongest VIP absence (any cause)\t%s\n", s.maxAbsence.Round(10*time.Millisecond))
	fmt.Fprintf(w, "longest dual holding (any cause)\t%s\n", s.maxDual.Round(10*time.Millisecond))
	fmt.Fprintf(w, "status convergence after a round, p50 / p99\t%s / %s\n", pct(0.5), pct(0.99))
	_ = w.Flush()
	return b.String()
}

// writeSoakReport puts the table into path (docs/benchmarks.md) between the soak markers.
func writeSoakReport(path, table string, d time.Duration, seed uint64) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
	section := fmt.Sprintf("%s\n`make soak SOAK_DURATION=%s SOAK_SEED=%d` (%s):\n\n```\n%s```\n%s", begin, d, seed, time.Now().UTC().Format("2006-01-02"), table, end)
	i, j := bytes.Index(data, []byte(begin)), bytes.Index(data, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s section", path, begin, end)
	}
	out := append(append(append([]byte{}, data[:i]...), section...), data[j+len(end):]...)
	return os.WriteFile(path, out, 0o644)
}
