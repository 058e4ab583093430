//go:build linux

package kubeadm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// A VIPGroup timing profile.
type benchProfile struct {
	name       string
	version    int
	advertMsec int
}

var benchProfiles = []benchProfile{
	{"default (VRRPv2, 1 s)", 2, 1000},
	{"fast (VRRPv3, 100 ms)", 3, 100},
}

// lossResult is one hard loss of the VIP holder.
type lossResult struct {
	newConn, reused     time.Duration // first successful GET /readyz through the VIP after the cable cut
	statusMaster        time.Duration // VIPGroup names the node that holds the VIP, Ready
	statusLoss          time.Duration // HAControlPlane shows 2/3 members
	disruptions         int           // episodes of the reused client getting no answer (connection cut, refused, timed out)
	moves               int           // times the VIP came to a node that did not hold it, from the loss until the end
	falseReadyAfterLoss time.Duration // time the VIPGroup said Ready with a master that did not hold the VIP
	leaderLost          bool          // the lost node ran the manager's leader
	etcdLeaderLost      bool          // the lost node was etcd's leader: /readyz waits for etcd's election
}

// BenchmarkKubeadm brings the README's quick start up on the lab (3 control-plane nodes) and, for
// the default and the fast profile in one run, powers off the VIP holder HACP_BENCH_LOSSES times
// (default 3): API downtime through the VIP for a new connection and for a client reusing its
// keep-alive connection, how many times that client is cut per failure (the node's return
// included), and how long the status takes to tell the truth. Also the lab's bring-up time, its
// CPU and memory, and hacp's processes' memory. `make bench-kubeadm` (root) prints the table.
func BenchmarkKubeadm(b *testing.B) {
	assets, repo := requireLab(b)
	losses := 3
	if v, err := strconv.Atoi(os.Getenv("HACP_BENCH_LOSSES")); err == nil && v > 0 {
		losses = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	begin := time.Now()
	q := newQuickStart(b, ctx, assets, repo, nil)
	boot := time.Since(begin)
	q.install()
	q.join([]string{"h2", "h3"}, nil)
	bringUp := q.bringUp

	before, at := cpuCounters(q.lab), time.Now()
	cpu, mem := labCost(b, q.lab, 30*time.Second)
	after, window := cpuCounters(q.lab), time.Since(at)
	idle := cpuShares(before, after, window, true)
	q.lab.Logf("CPU of the idle lab (%.2f cores), by consumer and node:\n%s", cpu, formatShares(cpuShares(before, after, window, false), 40))
	rss := hacpMemory(q.lab)

	profiles := benchProfiles
	if only := os.Getenv("HACP_BENCH_PROFILES"); only != "" { // "fast" or "default": one profile, to study it
		profiles = slices.DeleteFunc(slices.Clone(profiles), func(p benchProfile) bool { return !strings.HasPrefix(p.name, only) })
	}
	results := map[string][]lossResult{}
	for _, p := range profiles {
		patch := fmt.Sprintf(`{"spec":{"vrrpVersion":%d,"advertisementIntervalMilliseconds":%d}}`, p.version, p.advertMsec)
		// The node lost last may still be rejoining etcd: an API call through the VIP can
		// meet a restarting API server, so the patch is retried like any client would.
		q.step("profile "+p.name+" applied", time.Minute, func(ctx context.Context) error {
			return poll(ctx, func() (bool, string, error) {
				out, err := kubectlOut(ctx, q.assets, q.kubeconfig, "patch", "vipg", "kube-apiserver", "-n", "kube-system", "--type=merge", "-p", patch)
				if err != nil {
					return false, err.Error(), nil
				}
				return true, out, nil
			})
		})
		q.step("profile "+p.name+" rolled out", 3*time.Minute, func(ctx context.Context) error { return waitRolledOut(ctx, q) })
		for i := 0; i < losses; i++ {
			r := loseHolder(b, q)
			q.lab.Logf("%s loss %d: new connection %s, reused %s, status master %s, status loss %s, disruptions %d, VIP moves %d, manager leader lost %v, etcd leader lost %v",
				p.name, i+1, r.newConn, r.reused, r.statusMaster, r.statusLoss, r.disruptions, r.moves, r.leaderLost, r.etcdLeaderLost)
			results[p.name] = append(results[p.name], r)
		}
	}
	// A loss that cut clients more than once, or left the reused client without an answer for
	// longer than a failover takes, is what the figures cannot explain: keep the nodes' logs
	// (keepalived's states and checks are in the agents') before the lab goes.
	for _, rs := range results {
		if slices.ContainsFunc(rs, func(r lossResult) bool { return r.disruptions > 1 || r.reused > 5*time.Second }) {
			q.lab.Logf("a loss with more than one disruption or a long one: node logs saved in %s", saveLogs(b, q.lab))
			break
		}
	}
	b.StopTimer()

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\nhard loss of the VIP holder, %d per profile, 3 control-plane nodes (kubeadm %s)\n", losses, KubernetesVersion)
	fmt.Fprintln(w, "profile\tnew connection (median, max)\treused connection (median, max)\tdisruptions per failure\tVIP moves per failure\tstatus: new master (median, max)\tstatus: loss shown (median, max)\tfalse Ready\tlost the manager leader's node\tlost etcd's leader")
	for _, p := range profiles {
		rs := results[p.name]
		pick := func(f func(lossResult) time.Duration) string {
			var ds []time.Duration
			for _, r := range rs {
				ds = append(ds, f(r))
			}
			return medianMax(ds)
		}
		dis, moves := make([]string, 0, len(rs)), make([]string, 0, len(rs))
		var leader, etcd []string
		for i, r := range rs {
			dis = append(dis, strconv.Itoa(r.disruptions))
			moves = append(moves, strconv.Itoa(r.moves))
			if r.leaderLost {
				leader = append(leader, fmt.Sprintf("loss %d (status %s)", i+1, r.statusLoss.Round(100*time.Millisecond)))
			}
			if r.etcdLeaderLost {
				etcd = append(etcd, fmt.Sprintf("loss %d (new connection %s)", i+1, r.newConn.Round(10*time.Millisecond)))
			}
		}
		if len(leader) == 0 {
			leader = []string{"none"}
		}
		if len(etcd) == 0 {
			etcd = []string{"none"}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.name,
			pick(func(r lossResult) time.Duration { return r.newConn }),
			pick(func(r lossResult) time.Duration { return r.reused }),
			strings.Join(dis, ", "),
			strings.Join(moves, ", "),
			pick(func(r lossResult) time.Duration { return r.statusMaster }),
			pick(func(r lossResult) time.Duration { return r.statusLoss }),
			pick(func(r lossResult) time.Duration { return r.falseReadyAfterLoss }),
			strings.Join(leader, ", "), strings.Join(etcd, ", "))
	}
	fmt.Fprintf(w, "\nlab\tboot 4 nodes (containerd, kubelet, images)\t%s\n", boot.Round(time.Second))
	fmt.Fprintf(w, "\tquick start: init, deploy, 2 control-plane joins\t%s\n", bringUp.Round(time.Second))
	fmt.Fprintf(w, "\tCPU, idle cluster (30 s)\t%.2f cores\n", cpu)
	fmt.Fprintf(w, "\tmemory, all nodes\t%d MiB\n", mem>>20)
	for i, sh := range idle {
		if i == 15 {
			break
		}
		fmt.Fprintf(w, "\tCPU, idle: %s\t%.3f cores\n", sh.name, sh.cores)
	}
	for _, name := range []string{"hacp-manager", "hacp-agent", "keepalived"} {
		fmt.Fprintf(w, "\tRSS %s (per process)\t%s\n", name, rss[name])
	}
	_ = w.Flush()
}

func medianMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return fmt.Sprintf("%s, %s", ds[len(ds)/2].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond))
}

// waitRolledOut waits until the VIPGroup's current generation runs on every node and one node
// holds the VIP.
func waitRolledOut(ctx context.Context, q *quickStart) error {
	return poll(ctx, func() (bool, string, error) {
		got := q.field("vipg", "kube-apiserver", `{.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status}`)
		f := strings.Fields(got)
		h := q.lab.VIPHolders(q.vip)
		return len(f) == 3 && f[0] == f[1] && f[2] == "True" && len(h) == 1, fmt.Sprintf("%s, VIP on %v", got, h), nil
	})
}

// loseHolder powers off the node holding the VIP, measures, and brings it back.
func loseHolder(b *testing.B, q *quickStart) lossResult {
	ctx, lab := q.ctx, q.lab
	var holders []string
	q.step("one holder, steady", 2*time.Minute, func(ctx context.Context) error {
		if err := waitRolledOut(ctx, q); err != nil {
			return err
		}
		holders = lab.VIPHolders(q.vip)
		return waitSteady(ctx, lab, q.cfg, q.endpoint, 3*time.Second)
	})
	holder := lab.Node(holders[0])
	leaderNode := managerLeaderNode(q)
	etcdLeader := etcdLeaderNode(q)
	reused := startReusedClient(b, q)
	holdersSeen := sampleHolders(lab, q.vip, 50*time.Millisecond)
	time.Sleep(time.Second)
	r := lossResult{leaderLost: leaderNode == holder.Name, etcdLeaderLost: etcdLeader == holder.Name}
	if err := holder.SetLink(false); err != nil {
		b.Fatal(err)
	}
	lost := time.Now()
	// New connections are tried from the cut on, while the node's processes are killed: a client
	// does not wait for the lost machine to finish dying (the lab's PowerOff kills cgroups and
	// waits for them to go, which took part of the fast profile's window when it came first).
	newConn := make(chan time.Duration, 1)
	go func() { newConn <- firstNewConnection(ctx, q, lost) }()
	if err := holder.PowerOff(); err != nil {
		b.Fatal(err)
	}
	q.lab.Logf("%s powered off %s after the cut", holder.Name, time.Since(lost).Round(time.Millisecond))
	r.newConn = <-newConn
	var masterAt, lossAt time.Time
	var falseReady time.Duration
	last := time.Now()
	for (masterAt.IsZero() || lossAt.IsZero()) && time.Since(lost) < 3*time.Minute {
		st := readStatus(q)
		h := lab.VIPHolders(q.vip)
		now := time.Now()
		if st.ready == metav1.ConditionTrue && (len(h) != 1 || st.master != h[0]) {
			falseReady += now.Sub(last)
		}
		if masterAt.IsZero() && st.ready == metav1.ConditionTrue && len(h) == 1 && st.master == h[0] && st.master != holder.Name {
			masterAt = now
		}
		if lossAt.IsZero() && strings.HasPrefix(st.readyMembers, "2/3") {
			lossAt = now
		}
		last = now
		time.Sleep(250 * time.Millisecond)
	}
	r.statusMaster, r.statusLoss, r.falseReadyAfterLoss = masterAt.Sub(lost), lossAt.Sub(lost), falseReady
	if err := holder.Boot(); err != nil {
		b.Fatal(err)
	}
	q.step(holder.Name+" back: 3/3 members, tolerance 1", 5*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			st := readStatus(q)
			out := fmt.Sprintf("%s %d", st.readyMembers, st.tolerance)
			return out == "3/3 1", out, nil
		})
	})
	// A few seconds more: a returning node that took the VIP back would cut the client again now.
	time.Sleep(10 * time.Second)
	r.reused, r.disruptions = reused.stop(lost)
	st := holdersSeen.stop()
	r.moves = st.moves(lost)
	lab.Logf("%s lost: VIP holders %s", holder.Name, st.timeline(lost))
	lab.Logf("%s lost: reused client (%s) cut %s", holder.Name, reused.proto, reused.cuts(lost))
	return r
}

// shownStatus is what the bench reads of `kubectl get vipg,hacp -n kube-system`: the VIPGroup's
// master and Ready, the HAControlPlane's ready members and failure tolerance.
type shownStatus struct {
	master       string
	ready        metav1.ConditionStatus
	readyMembers string
	tolerance    int32 // -1 when the status has no quorum
}

// readStatus GETs both objects through the VIP on new connections, as each kubectl run does, but
// in-process: a kubectl run costs 0.2-0.3 s of CPU, and the bench's loops ran about two a second
// on this 2-core machine at the very moments they measure (the loss, the node's boot). Fields it
// cannot read stay empty.
func readStatus(q *quickStart) shownStatus {
	st := shownStatus{tolerance: -1}
	const base = "/apis/hacp.dev/v1alpha1/namespaces/kube-system/"
	var vg hacpv1.VIPGroup
	if code, body, err := getNewConn(q.ctx, q.lab, q.cfg, q.endpoint, base+"vipgroups/kube-apiserver"); err == nil && code == http.StatusOK && json.Unmarshal(body, &vg) == nil {
		st.master = vg.Status.Master
		if c := meta.FindStatusCondition(vg.Status.Conditions, "Ready"); c != nil {
			st.ready = c.Status
		}
	}
	var hc hacpv1.HAControlPlane
	if code, body, err := getNewConn(q.ctx, q.lab, q.cfg, q.endpoint, base+"hacontrolplanes/kubernetes"); err == nil && code == http.StatusOK && json.Unmarshal(body, &hc) == nil {
		st.readyMembers = hc.Status.ReadyMembers
		if hc.Status.Quorum != nil {
			st.tolerance = hc.Status.Quorum.FailureTolerance
		}
	}
	return st
}

// firstNewConnection starts a GET /readyz through the VIP on a new connection every 20 ms, each
// given up after a second, and returns the time from lost to the first success, as a client
// connecting at any moment would see it. One attempt after another would measure their timeout:
// a connection opened just before the VIP moves waits out its SYN to the lost node.
func firstNewConnection(ctx context.Context, q *quickStart, lost time.Time) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	ok := make(chan time.Time, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the wait: the attempts in flight end with it
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case at := <-ok:
			return at.Sub(lost)
		case <-ctx.Done():
			return time.Since(lost)
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				actx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				if readyz(actx, q.lab, q.cfg, q.endpoint) == nil {
					select {
					case ok <- time.Now():
					default:
					}
				}
			}()
		}
	}
}

// reusedClient sends GET /readyz every 20 ms through client-go's own transport (HTTP/2 over one
// kept-alive connection, the health-check pings, the retries Go's HTTP stack does by itself), as
// kubelet and controllers hold theirs, and records each request. A hand-made HTTP/1.1 client
// measured something else: its timed-out request closed the connection, so the next one dialled
// the new holder at once, and Go replayed a GET that met a reset on the new node without a word,
// which hid the cut (loss 1 of 2026-12-01's fast run: "no disruption").
type reusedClient struct {
	mu      sync.Mutex
	results []probeResult
	proto   string // of the first answer: client-go speaks HTTP/2 to the API server
	stopCh  chan struct{}
	done    chan struct{}
}

type probeResult struct {
	start, at time.Time // the request was sent, its answer (or error) came
	ok        bool
	// answered: the API sent a response (perhaps not 200: a /readyz 500 while etcd settles
	// does not cut the connection); false when the request failed (connection cut, refused, timed out).
	answered bool
	// newConn: the request went out on a connection made for it. A kept-alive client only makes
	// one when the one it had is gone (reset by a node that took the VIP, or given up).
	newConn bool
	err     string
}

func startReusedClient(b *testing.B, q *quickStart) *reusedClient {
	cfg := rest.CopyConfig(q.cfg)
	cfg.Dial = q.lab.DialHub
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	c := &reusedClient{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer utilnet.CloseIdleConnectionsFor(rt)
		for {
			select {
			case <-c.stopCh:
				return
			case <-time.After(20 * time.Millisecond):
			}
			r := probeResult{start: time.Now()}
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { r.newConn = !info.Reused }}
			ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(q.ctx, trace), 2*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+q.endpoint+"/readyz", nil)
			resp, err := rt.RoundTrip(req)
			if resp != nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			cancel()
			r.at, r.ok, r.answered = time.Now(), err == nil && resp.StatusCode == http.StatusOK, err == nil
			if err != nil {
				r.err = err.Error()
			}
			c.mu.Lock()
			c.results = append(c.results, r)
			if resp != nil && c.proto == "" {
				c.proto = resp.Proto
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// disruptionGap merges disrupted requests into one disruption: a client that is cut, gets
// answers, and is cut again within this gap met one disruption, not several.
const disruptionGap = 3 * time.Second

// stop ends the client and returns its downtime and disruptions after lost
// (downtimeAndDisruptions).
func (c *reusedClient) stop(lost time.Time) (time.Duration, int) {
	close(c.stopCh)
	<-c.done
	return downtimeAndDisruptions(c.results, lost)
}

// cuts says when, after lost, the client's requests got no answer or needed a new connection,
// with the first error of each episode: "+0.02-0.40s (12 failed, 1 new connections: context
// deadline exceeded)".
func (c *reusedClient) cuts(lost time.Time) string {
	var parts []string
	for _, e := range cutEpisodes(c.results, lost) {
		p := fmt.Sprintf("+%.2f-%.2fs (%d failed, %d new connections", e.from.Sub(lost).Seconds(), e.to.Sub(lost).Seconds(), e.failed, e.conns)
		if e.why != "" {
			p += ": " + e.why
		}
		parts = append(parts, p+")")
	}
	if len(parts) > 30 {
		parts = append(parts[:30], fmt.Sprintf("and %d more", len(parts)-30))
	}
	return strings.Join(parts, ", ")
}

// disrupted: the request got no answer, or went out on a new connection because the client's
// was gone.
func disrupted(r probeResult) bool { return !r.answered || r.newConn }

// cutEpisode is one disruption: disrupted requests answered after lost, each less than
// disruptionGap after the one before.
type cutEpisode struct {
	from, to      time.Time
	failed, conns int    // requests without an answer, requests on a new connection
	why           string // the first error
}

func cutEpisodes(results []probeResult, lost time.Time) []cutEpisode {
	var out []cutEpisode
	for _, r := range results {
		if r.at.Before(lost) || !disrupted(r) {
			continue
		}
		if len(out) == 0 || r.at.Sub(out[len(out)-1].to) > disruptionGap {
			out = append(out, cutEpisode{from: r.at})
		}
		e := &out[len(out)-1]
		e.to = r.at
		if r.answered {
			e.conns++
			continue
		}
		e.failed++
		if e.why == "" {
			e.why = r.err
		}
	}
	return out
}

// downtimeAndDisruptions: the downtime is the time from lost to the first 200 of a request sent
// after lost (a request in flight at the cut may still be answered by the lost node, and one
// that stalls until Go replays it elsewhere is downtime too); the disruptions are the cut
// episodes. An answer that is not 200 (/readyz 500 while etcd settles) is downtime, not a cut.
func downtimeAndDisruptions(results []probeResult, lost time.Time) (time.Duration, int) {
	disruptions := len(cutEpisodes(results, lost))
	for _, r := range results {
		if r.ok && !r.start.Before(lost) {
			return r.at.Sub(lost), disruptions
		}
	}
	return 0, disruptions
}

// managerLeaderNode is the node whose hacp-manager Pod holds the leader Lease, "" if unknown.
func managerLeaderNode(q *quickStart) string {
	holder, err := kubectlOut(q.ctx, q.assets, q.kubeconfig, "get", "lease", "hacp.dev", "-n", "hacp-system", "-o", "jsonpath={.spec.holderIdentity}")
	if err != nil || holder == "" {
		return ""
	}
	pod, _, _ := strings.Cut(holder, "_")
	node, err := kubectlOut(q.ctx, q.assets, q.kubeconfig, "get", "pod", pod, "-n", "hacp-system", "-o", "jsonpath={.spec.nodeName}")
	if err != nil {
		return ""
	}
	return node
}

// etcdLeaderNode is the control-plane node whose etcd is the leader, "" if none says so: each
// node's etcd answers its metrics on 127.0.0.1:2381, as kubeadm sets it up.
func etcdLeaderNode(q *quickStart) string {
	for _, name := range []string{"h1", "h2", "h3"} {
		n := q.lab.Node(name)
		if n == nil || !n.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(q.ctx, 5*time.Second)
		out, err := n.Run(ctx, "curl", "-s", "http://127.0.0.1:2381/metrics")
		cancel()
		if err == nil && strings.Contains(out, "\netcd_server_is_leader 1") {
			return name
		}
	}
	return ""
}

// labCost is the lab's CPU (cores) over d and its memory at the end, from its cgroup v1 parent.
func labCost(b *testing.B, lab *Lab, d time.Duration) (float64, int64) {
	read := func(path string) int64 {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Logf("lab cost: %v", err)
			return 0
		}
		v, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		return v
	}
	var cpuFiles, memFiles []string
	for _, n := range lab.Nodes() {
		for _, rel := range []string{n.CgroupRoot, n.sysCgroup()} {
			cpuFiles = append(cpuFiles, filepath.Join("/sys/fs/cgroup/cpuacct", rel, "cpuacct.usage"))
			memFiles = append(memFiles, filepath.Join("/sys/fs/cgroup/memory", rel, "memory.usage_in_bytes"))
		}
	}
	sum := func(files []string) int64 {
		var t int64
		for _, f := range files {
			t += read(f)
		}
		return t
	}
	start, at := sum(cpuFiles), time.Now()
	time.Sleep(d)
	used := sum(cpuFiles) - start
	return float64(used) / float64(time.Since(at).Nanoseconds()), sum(memFiles)
}

// hacpMemory is the resident memory of hacp's processes (and keepalived's) on the lab's nodes.
func hacpMemory(lab *Lab) map[string]string {
	out := map[string]string{}
	for _, name := range []string{"hacp-manager", "hacp-agent", "keepalived"} {
		var kib []int
		for _, n := range lab.Nodes() {
			for _, pid := range n.processes(name) {
				data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				if err != nil {
					continue
				}
				for _, line := range strings.Split(string(data), "\n") {
					if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
						v, _ := strconv.Atoi(f[1])
						kib = append(kib, v)
					}
				}
			}
		}
		sort.Ints(kib)
		if len(kib) == 0 {
			out[name] = "-"
			continue
		}
		out[name] = fmt.Sprintf("%d processes, %.1f-%.1f MiB", len(kib), float64(kib[0])/1024, float64(kib[len(kib)-1])/1024)
	}
	return out
}
