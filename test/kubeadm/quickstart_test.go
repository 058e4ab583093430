//go:build linux

package kubeadm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// hacpImage is the tag the lab builds hacp's image with (make image IMG=...).
const hacpImage = "lab.hacp.dev/hacp:lab"

// TestKubeadmQuickStart follows the README's quick start on the lab's nodes: hacpctl bootstrap on
// h1 and its files installed, kubeadm init with the VIP as endpoint, make deploy CONFIG=with-pki and
// the example resources applied with kubectl, the bootstrap keepalived retired, h2 and h3 joined with
// `hacpctl join --control-plane`, h4 with `hacpctl join`, and the HAControlPlane counting three members.
func TestKubeadmQuickStart(tt *testing.T) {
	t := recordFailures(tt)
	assets, repo := requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	q := newQuickStart(t, ctx, assets, repo, nil)
	// kubeadm's certificates last 2 hours here instead of a year, so that hacp's expiry warning
	// fires on real kubeadm certificates (#17); they are renewed for a year at the end.
	q.certificateValidity = "2h"
	q.install()
	q.join([]string{"h2", "h3"}, []string{"h4"})
	lab, vip, endpoint, cfg, client, h1 := q.lab, q.vip, q.endpoint, q.cfg, q.client, q.lab.Node("h1")
	kubectl, hacpctl, step := q.kubectl, q.hacpctl, q.step
	assets, kubeconfig := q.assets, q.kubeconfig
	step("h1-h4 Ready", 5*time.Minute, func(ctx context.Context) error {
		return WaitNodesReady(ctx, client, "h1", "h2", "h3", "h4")
	})
	t.Logf("\n%s", kubectl("get", "hacp,vipg", "-n", "kube-system", "-o", "wide"))
	t.Logf("\n%s", hacpctl("whatif"))
	step("CertificatesValid False: kubeadm's 2-hour certificates expire within warnBefore (30 days)", 3*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			out, err := kubectlOut(ctx, assets, kubeconfig, "get", "hacp", "kubernetes", "-n", "kube-system",
				"-o", `jsonpath={.status.conditions[?(@.type=="CertificatesValid")].status} {.status.conditions[?(@.type=="CertificatesValid")].reason}`)
			return err == nil && out == "False ExpiringSoon", out, nil
		})
	})
	t.Logf("\n%s", hacpctl("certs"))

	// Step 6, the failover test: the node holding the VIP loses power (cable cut, then every process
	// killed at once).
	status := func(what string) {
		out, _ := kubectlOut(ctx, assets, kubeconfig, "get", "hacp,vipg", "-n", "kube-system", "-o", "wide")
		t.Logf("%s:\n%s", what, out)
	}
	vipField := func(path string) string {
		out, _ := kubectlOut(ctx, assets, kubeconfig, "get", "vipg", "kube-apiserver", "-n", "kube-system", "-o", "jsonpath="+path)
		return out
	}
	hacpField := func(path string) string {
		out, _ := kubectlOut(ctx, assets, kubeconfig, "get", "hacp", "kubernetes", "-n", "kube-system", "-o", "jsonpath="+path)
		return out
	}
	// Status truth: the master the VIPGroup names is the node that actually holds the VIP.
	var holders []string
	step("the VIPGroup's master is the one node that holds the VIP", time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			holders = lab.VIPHolders(vip)
			m := vipField("{.status.master}")
			return len(holders) == 1 && m == holders[0], fmt.Sprintf("status says %q, VIP on %v", m, holders), nil
		})
	})
	holder := lab.Node(holders[0])
	// The holder's power loss and its return (a reboot): never two holders for longer than an
	// election.
	reboot := sampleHolders(lab, vip, 100*time.Millisecond)
	lost := time.Now()
	if err := holder.SetLink(false); err != nil {
		t.Fatal(err)
	}
	// From the cable cut on, a new connection every 50 ms, each given 300 ms.
	back := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := readyz(pctx, lab, cfg, endpoint)
			cancel()
			if err == nil {
				back <- time.Now()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := holder.PowerOff(); err != nil {
		t.Fatal(err)
	}
	lab.Logf("%s (the VIP holder) powered off", holder.Name)
	select {
	case at := <-back:
		lab.Logf("GET /readyz through the VIP answered on a new connection %s after the cable of %s was cut",
			at.Sub(lost).Round(time.Millisecond), holder.Name)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the API did not answer through the VIP within 2 minutes of the loss of %s", holder.Name)
	}
	step("the VIPGroup names the new holder as master and is Ready", 2*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			m, ready := vipField("{.status.master}"), vipField(`{.status.conditions[?(@.type=="Ready")].status}`)
			h := lab.VIPHolders(vip)
			return len(h) == 1 && m == h[0] && ready == "True", fmt.Sprintf("status %s %s, VIP on %v", m, ready, h), nil
		})
	})
	step("the HAControlPlane shows the loss (2/3 members, tolerance 0)", 5*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			got := hacpField("{.status.readyMembers} {.status.quorum.failureTolerance}")
			return got == "2/3 0", got, nil
		})
	})
	lab.Logf("status showed the loss %s after it", time.Since(lost).Round(time.Millisecond))
	status("after the loss of " + holder.Name)
	restore := func(nodes ...*Node) {
		t.Helper()
		for _, n := range nodes {
			if err := n.Boot(); err != nil {
				t.Fatal(err)
			}
		}
		step("every node back: h1-h4 Ready, 3/3 members, tolerance 1", 8*time.Minute, func(ctx context.Context) error {
			return poll(ctx, func() (bool, string, error) {
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err := readyz(rctx, lab, cfg, endpoint)
				cancel()
				got := hacpField("{.status.readyMembers} {.status.quorum.failureTolerance}")
				nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				notReady := WaitNodesReady(nctx, client, "h1", "h2", "h3", "h4")
				cancel()
				state := fmt.Sprintf("readyz through the VIP: %v; VIP on %v; status %q (%s); nodes: %v", err, lab.VIPHolders(vip), got,
					vipField(`{range .status.nodes[*]}{.name}={.state} {end}`), notReady)
				return err == nil && notReady == nil && got == "3/3 1", state, nil
			})
		})
	}
	restore(holder)
	status("after " + holder.Name + " returned")
	st := reboot.stop()
	if err := st.overlapErr("while "+holder.Name+" lost power and came back", electionOverlap); err != nil {
		t.Error(err)
	}
	lab.Logf("%s's reboot: %d samples; on two nodes: %s; the VIP was absent in %d (longest %s)",
		holder.Name, st.samples, st.overlapList(), st.absent, st.longestAbsent)

	// Step 7, the seed's questions answered by doing them: h3 fails (the cluster still works), then h2
	// (etcd quorum lost, as the status predicted), then both return.
	h2, h3 := lab.Node("h2"), lab.Node("h3")
	for _, n := range []*Node{h3, h2} {
		if err := n.PowerLoss(); err != nil {
			t.Fatal(err)
		}
		lab.Logf("%s powered off", n.Name)
		if n == h3 {
			step("without h3 the API answers through the VIP and status says 2/3, tolerance 0", 5*time.Minute, func(ctx context.Context) error {
				return poll(ctx, func() (bool, string, error) {
					err := readyz(ctx, lab, cfg, endpoint)
					got := hacpField("{.status.readyMembers} {.status.quorum.failureTolerance}")
					return err == nil && got == "2/3 0", fmt.Sprint(err, " ", got), nil
				})
			})
			status("after the loss of h3")
		}
	}
	step("without h2 and h3 the API no longer answers through the VIP (quorum lost, as predicted)", 3*time.Minute, func(ctx context.Context) error {
		down := time.Time{}
		return poll(ctx, func() (bool, string, error) {
			if err := readyz(ctx, lab, cfg, endpoint); err == nil {
				down = time.Time{}
				return false, "still answering", nil
			}
			if down.IsZero() {
				down = time.Now()
			}
			return time.Since(down) > 10*time.Second, "down since " + down.Format(time.RFC3339), nil
		})
	})
	restore(h2, h3)
	status("after h2 and h3 returned")

	// Step 8 (#17), the seed's "replace a dead master", with no etcdctl: h3 dies for good, a person
	// deletes its Node, hacp removes its etcd member (removal enabled as the README says), and a new
	// machine named h3 joins with hacp's command.
	kubectl("patch", "hacp", "kubernetes", "-n", "kube-system", "--type=merge", "-p",
		`{"spec":{"etcd":{"removeDeadMembers":"Enabled","deadMemberGracePeriod":"30s"}}}`)
	if err := h3.PowerLoss(); err != nil {
		t.Fatal(err)
	}
	dead := time.Now()
	kubectl("delete", "node", "h3", "--wait=false", "--ignore-not-found")
	step("h3's etcd member removed by hacp: 2 voters, quorum 2, tolerance 0", 4*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			got := hacpField("{.status.quorum.voters} {.status.quorum.quorum} {.status.quorum.failureTolerance}")
			return got == "2 2 0", got, nil
		})
	})
	lab.Logf("h3's member gone %s after its power loss (grace period 30 s)", time.Since(dead).Round(time.Second))
	t.Logf("events:\n%s", kubectl("get", "events", "-n", "kube-system", "--field-selector", "reason=RemovedDeadMember", "-o", "custom-columns=REASON:.reason,MESSAGE:.message"))
	status("after hacp removed h3's etcd member")
	if err := h3.Wipe(); err != nil {
		t.Fatal(err)
	}
	if err := h3.Boot(); err != nil {
		t.Fatal(err)
	}
	if _, err := h3.Join(ctx, hacpctl("join", "--control-plane")); err != nil {
		t.Fatal(err)
	}
	step("the new h3 joined: 3/3 members, 3 voters, tolerance 1", 6*time.Minute, func(ctx context.Context) error {
		if err := WaitNodesReady(ctx, client, "h1", "h2", "h3", "h4"); err != nil {
			return err
		}
		return poll(ctx, func() (bool, string, error) {
			got := hacpField("{.status.readyMembers} {.status.quorum.voters} {.status.quorum.failureTolerance}")
			return got == "3/3 3 1", got, nil
		})
	})
	status("after the new h3 joined")

	// Step 9 (#17): kubeadm certs renew on every control-plane node. hacp reads the served
	// certificates, so the warning stays until the static Pods restart; then it clears.
	for _, n := range []*Node{h1, h2, h3} {
		if out, err := n.RenewCertificates(ctx, endpoint, "8760h"); err != nil {
			t.Fatalf("kubeadm certs renew on %s: %v\n%s", n.Name, err, out)
		}
	}
	step("certificates renewed on disk, still expiring as served: CertificatesValid stays False", 3*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			out := hacpField(`{.status.conditions[?(@.type=="CertificatesValid")].status} {.status.conditions[?(@.type=="CertificatesValid")].reason}`)
			return out == "False RenewedNotServed" || out == "False ExpiringSoon", out, nil
		})
	})
	t.Logf("after kubeadm certs renew: %s", hacpField(`{.status.conditions[?(@.type=="CertificatesValid")].message}`))
	for _, n := range []*Node{h1, h2, h3} {
		step("etcd and kube-apiserver restarted on "+n.Name, 4*time.Minute, func(ctx context.Context) error {
			if err := n.RestartStaticPods(ctx, "etcd", "kube-apiserver"); err != nil {
				return err
			}
			return poll(ctx, func() (bool, string, error) {
				err := readyz(ctx, lab, cfg, n.Addr.String()+":6443")
				return err == nil, fmt.Sprint(err), nil
			})
		})
	}
	step("the renewed certificates are served: CertificatesValid True", 4*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			out := hacpField(`{.status.conditions[?(@.type=="CertificatesValid")].status} {.status.conditions[?(@.type=="CertificatesValid")].message}`)
			return strings.HasPrefix(out, "True"), out, nil
		})
	})
	t.Logf("\n%s", hacpctl("certs"))
	status("after the certificates were renewed and served")

	// Step 10 (#13): full cold boots. Every node loses power at once (links cut, every process
	// killed, /run and memory-backed volumes gone) and boots again (links up, containerd and
	// kubelet started as systemd would). Nothing but the node-local standbys can bring the VIP
	// back: the agents reach the API only once it answers, and the first time with kubeadm's
	// defaults (kubelet talks to its local API server), the second with every control-plane
	// kubelet reaching the API only through the VIP (kubelet.conf's server set to it, as clusters
	// built by older kubeadm releases have it).
	for _, n := range []*Node{h1, h2, h3} {
		for _, f := range []string{"etc-hacp/standby/kube-system_kube-apiserver/keepalived.conf", "etc-kubernetes/manifests/hacp-standby-kube-system-kube-apiserver.yaml"} {
			if _, err := os.Stat(filepath.Join(n.Dir, f)); err != nil {
				t.Errorf("%s: the agent keeps no standby file %s: %v", n.Name, f, err)
			}
		}
	}
	all := []*Node{h1, h2, h3, lab.Node("h4")}
	coldBoot := func(how string) {
		t.Helper()
		for _, n := range all {
			if err := n.PowerLoss(); err != nil {
				t.Fatal(err)
			}
		}
		lab.Logf("cold boot (%s): every node powered off", how)
		time.Sleep(3 * time.Second)
		for _, n := range all {
			if err := n.Boot(); err != nil {
				t.Fatal(err)
			}
		}
		booted := time.Now()
		lab.Logf("every node booted (containerd and kubelet started)")
		var firstLocal time.Time
		step("the API answers through the VIP after the cold boot ("+how+")", 8*time.Minute, func(ctx context.Context) error {
			return poll(ctx, func() (bool, string, error) {
				if firstLocal.IsZero() {
					for _, n := range []*Node{h1, h2, h3} {
						if readyz(ctx, lab, cfg, n.Addr.String()+":6443") == nil {
							firstLocal = time.Now()
							break
						}
					}
				}
				err := readyz(ctx, lab, cfg, endpoint)
				return err == nil, fmt.Sprint(err), nil
			})
		})
		vipUp := time.Now()
		lab.Logf("cold boot (%s): the VIP answered %s after the last kubelet started, %s after the first local API server was ready",
			how, vipUp.Sub(booted).Round(100*time.Millisecond), vipUp.Sub(firstLocal).Round(100*time.Millisecond))
		// Only a status the manager wrote after the boot counts (the one from before the power
		// loss is still there until then), and only handovers recorded after it.
		after := func(ts string) bool {
			at, err := time.Parse(time.RFC3339, ts)
			return err == nil && !at.Before(booted.Truncate(time.Second))
		}
		step("after the cold boot ("+how+"): VIPGroup Ready, HAControlPlane Available, the DaemonSet's agents took over from the standbys", 8*time.Minute, func(ctx context.Context) error {
			return poll(ctx, func() (bool, string, error) {
				vg := strings.Fields(vipField(`{.status.lastObservedTime} {.status.conditions[?(@.type=="Ready")].status}`))
				hc := strings.Fields(hacpField(`{.status.lastObservedTime} {.status.conditions[?(@.type=="Available")].status}`))
				standbys := vipField(`{.status.nodes[?(@.standby==true)].name}`)
				ev, _ := kubectlOut(ctx, assets, kubeconfig, "get", "events", "-n", "kube-system", "--field-selector", "reason=StandbyRetired",
					"-o", `jsonpath={range .items[*]}{.lastTimestamp}{" "}{end}`)
				retired := 0
				for _, ts := range strings.Fields(ev) {
					if after(ts) {
						retired++
					}
				}
				fresh := len(vg) == 2 && len(hc) == 2 && after(vg[0]) && after(hc[0])
				return fresh && vg[1] == "True" && hc[1] == "True" && standbys == "" && retired > 0,
					fmt.Sprintf("VIPGroup %v, HAControlPlane %v, on standby: [%s], %d StandbyRetired events since the boot", vg, hc, standbys, retired), nil
			})
		})
		status("after the cold boot (" + how + ")")
	}
	coldBoot("kubeadm's defaults: kubelet talks to its local API server")
	for _, n := range []*Node{h1, h2, h3} {
		path := filepath.Join(n.Dir, "etc-kubernetes", "kubelet.conf")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b = regexp.MustCompile(`server: https://\S+`).ReplaceAll(b, []byte("server: https://"+endpoint))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	coldBoot("every control-plane kubelet reaches the API through the VIP only")

	// Step 10b (#13): a node whose agent cannot run.
	q.agentCannotStart()

	// Step 11 (#13): removing hacp never silently takes the endpoint down: the standbys serve the
	// VIP once the VIPGroup (and with it the DaemonSet) is deleted, and after make undeploy; the
	// documented removal takes it away.
	gaps := func(what string, d time.Duration) time.Duration {
		var longest time.Duration
		var down time.Time
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err := readyz(pctx, lab, cfg, endpoint)
			cancel()
			switch {
			case err != nil && down.IsZero():
				down = time.Now()
			case err == nil && !down.IsZero():
				longest = max(longest, time.Since(down))
				down = time.Time{}
			}
		}
		if !down.IsZero() {
			t.Errorf("%s: the API stopped answering through the VIP and did not come back", what)
		}
		lab.Logf("%s: longest time the API did not answer through the VIP: %s", what, longest.Round(100*time.Millisecond))
		return longest
	}
	kubectl("delete", "vipg", "kube-apiserver", "-n", "kube-system", "--wait=false", "--ignore-not-found")
	gaps("VIPGroup deleted (the standbys take over)", 45*time.Second)
	undeploy := exec.CommandContext(ctx, "make", "undeploy", "IMG="+hacpImage, "CONFIG=with-pki")
	undeploy.Dir = q.repo
	undeploy.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+filepath.Join(assets, "bin")+":"+os.Getenv("PATH"))
	if b, err := undeploy.CombinedOutput(); err != nil {
		t.Fatalf("make undeploy: %v\n%s", err, b)
	}
	gaps("make undeploy", 30*time.Second)
	for _, n := range []*Node{h1, h2, h3} {
		for _, f := range []string{"etc-kubernetes/manifests/hacp-standby-kube-system-kube-apiserver.yaml", "etc-hacp/standby/kube-system_kube-apiserver"} {
			if err := os.RemoveAll(filepath.Join(n.Dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	step("the documented removal: the standbys stop and the VIP is gone", 3*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			h := lab.VIPHolders(vip)
			return len(h) == 0, fmt.Sprintf("VIP on %v", h), nil
		})
	})
}

// waitSteady waits until GET /readyz through server has answered every 250 ms for d.
func waitSteady(ctx context.Context, lab *Lab, cfg *rest.Config, server string, d time.Duration) error {
	var since time.Time
	return poll(ctx, func() (bool, string, error) {
		for {
			if err := readyz(ctx, lab, cfg, server); err != nil {
				since = time.Time{}
				return false, err.Error(), nil
			}
			if since.IsZero() {
				since = time.Now()
			}
			if time.Since(since) >= d {
				return true, "", nil
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// readyz sends GET /readyz to server through the hub on a new connection, as a new client would.
func readyz(ctx context.Context, lab *Lab, cfg *rest.Config, server string) error {
	code, _, err := getNewConn(ctx, lab, cfg, server, "/readyz")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("readyz: %d %s", code, http.StatusText(code))
	}
	return nil
}

// getNewConn GETs path from server through the hub on a new connection (given up after 2 s), as
// a new client (or a kubectl run) would, and returns the status code and the body.
func getNewConn(ctx context.Context, lab *Lab, cfg *rest.Config, server, path string) (int, []byte, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return 0, nil, err
	}
	tr := &http.Transport{DialContext: lab.DialHub, TLSClientConfig: tlsConfig, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "https://"+server+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// makeImage runs make image and returns the tarball it writes.
func makeImage(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "make", "image", "IMG="+hacpImage)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make image: %v\n%s", err, b)
	}
	return filepath.Join(repo, "bin/hacp-image.tar"), nil
}

func kubectlOut(ctx context.Context, assets, kubeconfig string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(assets, "bin/kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b)), nil
}

// holderStats sums up VIP holder samples.
type holderStats struct {
	samples, absent int
	longestAbsent   time.Duration
	absentSince     time.Time // the first sample of the current absence, or zero
	// overlaps are the runs of samples with more than one holder, in order.
	overlaps []overlap
	// changes is the holder set at each sample where it differed from the one before (the first
	// sample included). All are kept: moves counts them; timeline prints the first maxTimeline.
	changes []holderChange
}

// holderChange is a sample whose holders differ from the previous sample's.
type holderChange struct {
	at      time.Time
	holders []string
}

const maxTimeline = 100

// moves counts the samples after since at which the VIP came to a node that did not hold it when
// it was last held: the VIP moving to a backup counts once, and so does every move after; the
// holder coming back after a gap does not.
func (st holderStats) moves(since time.Time) int {
	n := 0
	var last []string
	for _, c := range st.changes {
		if len(c.holders) == 0 {
			continue
		}
		if !c.at.Before(since) && slices.ContainsFunc(c.holders, func(h string) bool { return !slices.Contains(last, h) }) {
			n++
		}
		last = c.holders
	}
	return n
}

// timeline says who held the VIP from since on: "+0.41s [h2], +1.20s [], +1.62s [h3]".
func (st holderStats) timeline(since time.Time) string {
	var parts []string
	for _, c := range st.changes {
		if c.at.Before(since) {
			continue
		}
		if len(parts) == maxTimeline {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("+%.2fs %v", c.at.Sub(since).Seconds(), c.holders))
	}
	return strings.Join(parts, ", ")
}

// overlap is a run of samples in which more than one node held the VIP: from the first of them
// to the first sample after (or the sampler's stop).
type overlap struct {
	from, to time.Time
	holders  []string
}

func (o overlap) String() string {
	return fmt.Sprintf("%s for %s %v", o.from.UTC().Format("15:04:05.000"), o.to.Sub(o.from).Round(10*time.Millisecond), o.holders)
}

// electionOverlap is how long two nodes may both hold the VIP in the lab, with the example's
// profile (VRRPv2, 1 s advertisements). When the master goes to FAULT it sends priority 0, and
// every backup takes over after its skew time, (256 - priority)/256 s: 3.9 ms apart for the
// plan's neighbouring priorities, so on a loaded machine two backups can both become MASTER. The
// lower one lets go when it processes the higher one's advertisement: a delivery, or one interval
// more when that one comes late (CI's run on 2026-12-01 saw 1.15 s: keepalived's timers fired
// 0.7 s late under the lab's load). The soak (docs/soak.md, invariant 1) allows one interval on
// its lighter load. Two intervals stay under the master-down interval (3.22 s), so a split brain,
// where the holders do not hear each other, cannot hide in the bound.
const electionOverlap = 2 * time.Second

// overlapErr reports the overlaps longer than bound, or nil; what names the period sampled.
func (st holderStats) overlapErr(what string, bound time.Duration) error {
	var long []string
	for _, o := range st.overlaps {
		if o.to.Sub(o.from) > bound {
			long = append(long, o.String())
		}
	}
	if len(long) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the VIP was on two nodes for longer than an election (%s) %d time(s): %s; all overlaps: %s",
		what, bound, len(long), strings.Join(long, ", "), st.overlapList())
}

// overlapList names every overlap, for the log.
func (st holderStats) overlapList() string {
	if len(st.overlaps) == 0 {
		return "none"
	}
	var all []string
	for _, o := range st.overlaps {
		all = append(all, o.String())
	}
	return strings.Join(all, ", ")
}

// record adds a sample: the nodes that held the VIP at now.
func (st *holderStats) record(now time.Time, h []string) {
	st.samples++
	if n := len(st.changes); n == 0 || !slices.Equal(h, st.changes[n-1].holders) {
		st.changes = append(st.changes, holderChange{at: now, holders: h})
	}
	if n := len(st.overlaps); n > 0 && st.overlaps[n-1].to.IsZero() && len(h) < 2 {
		st.overlaps[n-1].to = now
	}
	switch {
	case len(h) == 0:
		st.absent++
		if st.absentSince.IsZero() {
			st.absentSince = now
		}
		st.longestAbsent = max(st.longestAbsent, now.Sub(st.absentSince))
		return
	case len(h) > 1:
		if n := len(st.overlaps); n == 0 || !st.overlaps[n-1].to.IsZero() {
			st.overlaps = append(st.overlaps, overlap{from: now, holders: h})
		}
	}
	st.absentSince = time.Time{}
}

// finish ends an overlap still open when sampling stops at now.
func (st *holderStats) finish(now time.Time) {
	if n := len(st.overlaps); n > 0 && st.overlaps[n-1].to.IsZero() {
		st.overlaps[n-1].to = now
	}
}

type holderSampler struct {
	stopCh chan struct{}
	done   chan holderStats
}

// sampleHolders looks at which nodes hold vip every period until stop.
func sampleHolders(lab *Lab, vip netip.Addr, period time.Duration) *holderSampler {
	s := &holderSampler{stopCh: make(chan struct{}), done: make(chan holderStats, 1)}
	go func() {
		var st holderStats
		for {
			select {
			case <-s.stopCh:
				st.finish(time.Now())
				s.done <- st
				return
			case <-time.After(period):
			}
			h := lab.VIPHolders(vip)
			st.record(time.Now(), h)
		}
	}()
	return s
}

func (s *holderSampler) stop() holderStats {
	close(s.stopCh)
	return <-s.done
}

// agentCannotStart is step 10b (#13): a backup node whose agent cannot run (hacp's image gone from
// the node, so the DaemonSet's next Pod there cannot start): its standby runs keepalived, and the
// VIPGroup says so for that node, as kubelet reports it through the standby's mirror Pod; the
// image back, the agent takes over. The VIP is on one node at every sample.
func (q *quickStart) agentCannotStart() {
	t, lab := q.t, q.lab
	t.Helper()
	vipField := func(path string) string { return q.field("vipg", "kube-apiserver", path) }
	readyState := func() string {
		return vipField(`{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`) +
			"; nodes: " + vipField(`{range .status.nodes[*]}{.name}={.state} unheard={.unheard} standby={.standby} {.message}; {end}`)
	}
	var holders []string
	q.step("the VIPGroup's master is the one node that holds the VIP", time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			holders = lab.VIPHolders(q.vip)
			m := vipField("{.status.master}")
			return len(holders) == 1 && m == holders[0], fmt.Sprintf("status says %q, VIP on %v", m, holders), nil
		})
	})
	var other *Node // a backup, so that the VIP need not move
	for _, name := range []string{"h1", "h2", "h3"} {
		if name != holders[0] {
			other = lab.Node(name)
			break
		}
	}
	tags, err := imageTags(q.imageTarball)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if out, err := other.Command("ctr", "-n", "k8s.io", "images", "rm", tag).CombinedOutput(); err != nil {
			t.Fatalf("%s: ctr images rm %s: %v: %s", other.Name, tag, err, out)
		}
	}
	agentPod := q.kubectl("get", "pods", "-n", "kube-system", "-l", "hacp.dev/vipgroup=kube-apiserver,app.kubernetes.io/managed-by=hacp",
		"--field-selector", "spec.nodeName="+other.Name, "-o", "name")
	onStandby := sampleHolders(lab, q.vip, 100*time.Millisecond)
	q.kubectl("delete", "-n", "kube-system", agentPod, "--wait=false", "--ignore-not-found")
	lab.Logf("hacp's image removed from %s and its agent Pod (%s) deleted", other.Name, agentPod)
	standbyOf := func() string { return vipField(`{.status.nodes[?(@.name=="` + other.Name + `")].standby}`) }
	// The VIP may move meanwhile (on this loaded machine a health check times out now and then):
	// what counts is that the status names the node that holds it.
	q.step(other.Name+"'s agent cannot start: its standby runs keepalived, and the VIPGroup says so", 4*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			got, h := standbyOf(), lab.VIPHolders(q.vip)
			f := strings.Fields(vipField(`{.status.conditions[?(@.type=="Ready")].status} {.status.master}`))
			return got == "true" && len(f) == 2 && f[0] == "True" && len(h) == 1 && h[0] == f[1],
				fmt.Sprintf("VIP on %v; Ready %s", h, readyState()), nil
		})
	})
	t.Logf("while %s runs on its standby: Ready %s", other.Name, readyState())
	if err := other.ImportImage(q.imageTarball); err != nil {
		t.Fatal(err)
	}
	q.step(other.Name+"'s image is back: its agent starts and takes over from the standby", 5*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			got, ready := standbyOf(), vipField(`{.status.conditions[?(@.type=="Ready")].status}`)
			state := vipField(`{.status.nodes[?(@.name=="` + other.Name + `")].state}`)
			return got != "true" && ready == "True" && state == "BACKUP", fmt.Sprintf("Ready %s", readyState()), nil
		})
	})
	// Two holders for longer than an election would be hacp's doing. An absence is logged, not
	// judged: on this loaded machine the master's health check times out now and then (the joins
	// above show it too).
	st := onStandby.stop()
	if err := st.overlapErr("while "+other.Name+" ran on its standby and handed back", electionOverlap); err != nil {
		t.Error(err)
	}
	lab.Logf("while %s ran on its standby and handed back: %d samples; on two nodes: %s; the VIP was absent in %d (longest %s)",
		other.Name, st.samples, st.overlapList(), st.absent, st.longestAbsent.Round(10*time.Millisecond))
}

// TestKubeadmAgentCannotStart is the quick start's step 10b alone, right after the bring-up: a
// backup node whose agent cannot start runs on its standby, and the status says so.
// (make lab-standby-test)
func TestKubeadmAgentCannotStart(tt *testing.T) {
	t := recordFailures(tt)
	assets, repo := requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	q := newQuickStart(t, ctx, assets, repo, nil)
	q.install()
	q.join([]string{"h2", "h3"}, nil)
	q.step("h1-h3 Ready", 5*time.Minute, func(ctx context.Context) error {
		return WaitNodesReady(ctx, q.client, "h1", "h2", "h3")
	})
	q.agentCannotStart()
}
