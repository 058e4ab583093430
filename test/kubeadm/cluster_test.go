//go:build linux

package kubeadm

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// quickStart is the README's quick start brought up on the lab: what TestKubeadmQuickStart tells
// step by step and what the kubeadm benchmark measures.
type quickStart struct {
	t                     testing.TB
	ctx                   context.Context
	lab                   *Lab
	vip                   netip.Addr
	assets, repo, bin     string
	endpoint, exampleFile string
	kubeconfig, certKey   string
	cfg                   *rest.Config
	client                kubernetes.Interface
	cpJoin, workerJoin    string
	certificateValidity   string
	imageTarball          string
	bringUp               time.Duration
}

// newQuickStart builds hacp's image and hacpctl, boots the lab's nodes and writes the example
// with the lab's VIP, control-plane join commands (CONFIG=with-pki) and etcd access enabled, as
// the README says; edit changes it further (nil for none).
func newQuickStart(t testing.TB, ctx context.Context, assets, repo string, edit func(string) string) *quickStart {
	begin := time.Now()
	tarball, err := makeImage(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("make image took %s", time.Since(begin).Round(time.Second))
	lab, _ := newLab(t, assets, repo, tarball)
	vip, _ := Seed()
	q := &quickStart{t: t, ctx: ctx, lab: lab, vip: vip, assets: assets, repo: repo, imageTarball: tarball,
		bin: filepath.Join(lab.Root, "bin"), endpoint: vip.String() + ":6443"}
	if err := lab.goBuild(filepath.Join(q.bin, "hacpctl"), "./cmd/hacpctl"); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(repo, "examples/haclusterplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ex := strings.ReplaceAll(string(example), "192.168.1.8", vip.String())
	ex = strings.Replace(ex, "certificateUpload: Disabled", "certificateUpload: Enabled", 1)
	ex = strings.Replace(ex, "  # etcd: {}", "  etcd: {}", 1)
	if edit != nil {
		ex = edit(ex)
	}
	q.exampleFile = filepath.Join(lab.Root, "haclusterplane.yaml")
	if err := os.WriteFile(q.exampleFile, []byte(ex), 0o644); err != nil {
		t.Fatal(err)
	}
	return q
}

// kubectl runs the lab's kubectl as h1's admin through the VIP; a failure ends the test. A call
// that did not reach the API (connection refused or reset: the VIP moving, as it may while nodes
// return on a loaded machine) is retried for up to a minute, as a person or a GitOps tool would,
// and the retry is logged. Callers make their commands safe to repeat (--ignore-not-found).
func (q *quickStart) kubectl(args ...string) string {
	q.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := kubectlOut(q.ctx, q.assets, q.kubeconfig, args...)
		if err == nil {
			return out
		}
		if !unreachable(out) || time.Now().After(deadline) {
			q.t.Fatal(err)
		}
		q.lab.Logf("kubectl %s did not reach the API through the VIP (%s); retrying", strings.Join(args, " "), strings.TrimSpace(out))
		time.Sleep(time.Second)
	}
}

// unreachable reports whether kubectl's output says that it never got an answer from the API.
func unreachable(out string) bool {
	for _, s := range []string{"Unable to connect to the server", "connection refused", "connection reset by peer", "TLS handshake timeout", "i/o timeout"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// field reads one JSONPath of an object, "" when it cannot.
func (q *quickStart) field(kind, name, path string) string {
	out, _ := kubectlOut(q.ctx, q.assets, q.kubeconfig, "get", kind, name, "-n", "kube-system", "-o", "jsonpath="+path)
	return out
}

// hacpctl runs hacpctl with h1's admin kubeconfig; a failure ends the test.
func (q *quickStart) hacpctl(args ...string) string {
	q.t.Helper()
	cmd := exec.CommandContext(q.ctx, filepath.Join(q.bin, "hacpctl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+q.kubeconfig)
	b, err := cmd.Output()
	if err != nil {
		q.t.Fatalf("hacpctl %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b))
}

// step runs f within d and logs how long it took; a failure ends the test.
func (q *quickStart) step(what string, d time.Duration, f func(context.Context) error) {
	q.t.Helper()
	sctx, cancel := context.WithTimeout(q.ctx, d)
	defer cancel()
	begin := time.Now()
	if err := f(sctx); err != nil {
		q.t.Fatalf("%s: %v", what, err)
	}
	q.lab.Logf("%s after %s", what, time.Since(begin).Round(time.Millisecond))
}

// install is the README's steps 2 to 4 on h1: hacpctl bootstrap and its files installed, kubeadm
// init with the VIP as endpoint, make deploy IMG=... CONFIG=with-pki, the example applied, the
// VIPGroup Ready and the bootstrap static Pod retired.
func (q *quickStart) install() {
	t, ctx, lab := q.t, q.ctx, q.lab
	h1 := lab.Node("h1")
	start := time.Now()
	out, err := h1.Run(ctx, filepath.Join(q.bin, "hacpctl"), "bootstrap", "-f", q.exampleFile,
		"--node", "h1="+h1.Addr.String(), "--image", hacpImage, "--out", filepath.Join(h1.Dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hacpctl bootstrap:\n%s", out)
	installed := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "sudo install ") {
			if _, err := h1.Run(ctx, "sh", "-c", strings.TrimPrefix(line, "sudo ")); err != nil {
				t.Fatal(err)
			}
			installed++
		}
	}
	if installed != 2 {
		t.Fatalf("hacpctl bootstrap printed %d install commands, want 2", installed)
	}

	q.certKey = NewCertificateKey()
	begin := time.Now()
	if _, err = h1.Init(ctx, ClusterConfig{Endpoint: q.endpoint, CertificateKey: q.certKey, CertificateValidity: q.certificateValidity}); err != nil {
		t.Fatal(err)
	}
	lab.Logf("kubeadm init on h1 (VIP from the bootstrap static Pod) took %s", time.Since(begin).Round(time.Millisecond))
	if q.cfg, err = h1.RESTConfig(q.endpoint); err != nil {
		t.Fatal(err)
	}
	q.client = kubernetes.NewForConfigOrDie(q.cfg)
	if q.kubeconfig, err = h1.Kubeconfig(q.endpoint); err != nil {
		t.Fatal(err)
	}
	q.step("h1 Ready", 3*time.Minute, func(ctx context.Context) error { return WaitNodesReady(ctx, q.client, "h1") })

	begin = time.Now()
	makeDeploy := func() ([]byte, error) {
		deploy := exec.CommandContext(ctx, "make", "deploy", "IMG="+hacpImage, "CONFIG=with-pki")
		deploy.Dir = q.repo
		deploy.Env = append(os.Environ(), "KUBECONFIG="+q.kubeconfig, "PATH="+filepath.Join(q.assets, "bin")+":"+os.Getenv("PATH"))
		return deploy.CombinedOutput()
	}
	if b, err := makeDeploy(); err != nil {
		// Reported, then retried once so that the rest of the story still runs.
		t.Errorf("make deploy on a fresh cluster: %v\n%s", err, b)
		if b, err := makeDeploy(); err != nil {
			t.Fatalf("make deploy, second time: %v\n%s", err, b)
		}
	}
	lab.Logf("make deploy took %s", time.Since(begin).Round(time.Millisecond))
	q.kubectl("apply", "-f", q.exampleFile)
	q.step("VIPGroup Ready", 5*time.Minute, func(ctx context.Context) error {
		_, err := kubectlOut(ctx, q.assets, q.kubeconfig, "wait", "--for=condition=Ready", "vipg/kube-apiserver", "-n", "kube-system", "--timeout=5m")
		return err
	})
	// make deploy IMG=... is the only place the image is named: the manager and every agent run it
	// (the manager passes its own image to the DaemonSet), and the kubelet ran exactly the imported tarball.
	for _, sel := range []string{"-n hacp-system -l app.kubernetes.io/component=manager", "-n kube-system -l app.kubernetes.io/name=hacp-agent"} {
		args := append([]string{"get", "pods"}, strings.Fields(sel)...)
		images := q.kubectl(append(args, "-o", "jsonpath={range .items[*]}{.spec.containers[*].image}{\"\\n\"}{end}")...)
		if strings.TrimSpace(images) == "" {
			t.Errorf("no Pods for %s", sel)
		}
		for _, img := range strings.Fields(images) {
			if img != hacpImage {
				t.Errorf("a Pod (%s) runs %s, not make deploy's IMG %s", sel, img, hacpImage)
			}
		}
	}
	q.step("the bootstrap static Pod retired (its manifest gone from h1)", 3*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			_, err := os.Stat(filepath.Join(h1.Dir, "etc-kubernetes/manifests/hacp-bootstrap.yaml"))
			return os.IsNotExist(err), "manifest still there", nil
		})
	})
	q.bringUp = time.Since(start)
}

// join is the README's step 5: the join commands hacp publishes, `hacpctl join --control-plane`
// on control-plane nodes and `hacpctl join` on workers, one node after the other, each once it is
// Ready and the API answers steadily through the VIP. It returns the VIP holder samples taken
// meanwhile.
func (q *quickStart) join(controlPlane, workers []string) holderStats {
	t, ctx, lab := q.t, q.ctx, q.lab
	start := time.Now()
	waitCP := func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			cmd := exec.CommandContext(ctx, filepath.Join(q.bin, "hacpctl"), "join", "--control-plane")
			cmd.Env = append(os.Environ(), "KUBECONFIG="+q.kubeconfig)
			b, err := cmd.CombinedOutput()
			q.cpJoin = strings.TrimSpace(string(b))
			return err == nil && strings.Contains(q.cpJoin, "--certificate-key"), q.cpJoin, nil
		})
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	begin := time.Now()
	if err := waitCP(wctx); err != nil {
		// Reported; the story goes on with kubeadm's own command so that the rest still runs.
		t.Errorf("hacpctl join --control-plane after the README's kubeadm init --upload-certs: %v", err)
		join, err := lab.Node("h1").WorkerJoinCommand(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q.cpJoin = join + " --control-plane --certificate-key " + q.certKey
	} else {
		lab.Logf("hacp published the control-plane join command after %s", time.Since(begin).Round(time.Millisecond))
	}
	wcancel()
	q.workerJoin = q.hacpctl("join")
	// Who holds the VIP, every 100 ms while the nodes join: never two for longer than an election,
	// and how long nobody.
	joins := sampleHolders(lab, q.vip, 100*time.Millisecond)
	all := append(append([]string(nil), controlPlane...), workers...)
	for i, name := range all {
		cmd := q.cpJoin
		if i >= len(controlPlane) {
			cmd = q.workerJoin
		}
		begin := time.Now()
		if _, err := lab.Node(name).Join(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		lab.Logf("kubeadm join on %s took %s", name, time.Since(begin).Round(time.Millisecond))
		// As an operator would: the next join once this node is Ready and the VIP answers steadily.
		q.step(name+" Ready and the API steady through the VIP (5 s)", 5*time.Minute, func(ctx context.Context) error {
			if err := WaitNodesReady(ctx, q.client, name); err != nil {
				return err
			}
			return waitSteady(ctx, lab, q.cfg, q.endpoint, 5*time.Second)
		})
	}
	st := joins.stop()
	lab.Logf("while %s joined: %d samples, VIP absent in %d (longest %s), on two nodes: %s",
		strings.Join(all, ", "), st.samples, st.absent, st.longestAbsent, st.overlapList())
	if err := st.overlapErr("while nodes joined", electionOverlap); err != nil {
		t.Error(err)
	}
	q.step("HAControlPlane: 3/3 members, tolerance 1", 5*time.Minute, func(ctx context.Context) error {
		return poll(ctx, func() (bool, string, error) {
			out := q.field("hacp", "kubernetes", "{.status.readyMembers} {.status.quorum.failureTolerance}")
			return out == "3/3 1", out, nil
		})
	})
	q.bringUp += time.Since(start)
	return st
}
