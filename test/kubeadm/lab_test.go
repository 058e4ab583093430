//go:build linux

package kubeadm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// requireLab skips unless the lab is asked for (HACP_KUBEADM_LAB=1, as make lab-test sets) and can
// run here; it returns the assets folder, building it with hack/lab-assets.sh if needed.
func requireLab(t testing.TB) (assets, repo string) {
	t.Helper()
	if os.Getenv("HACP_KUBEADM_LAB") == "" {
		t.Skip("the kubeadm lab runs real kubeadm nodes (root, containerd, minutes): make lab-test")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "ip", "nsenter", "unshare", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		msg := "the kubeadm lab needs " + strings.Join(missing, ", ") + " (apt-get install containerd runc iproute2 util-linux)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": .ci/run installs them")
		}
		t.Skip(msg + ": skipped")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	assets = os.Getenv("HACP_LAB_ASSETS")
	if assets == "" {
		cmd := exec.Command(filepath.Join(repo, "hack/lab-assets.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hack/lab-assets.sh: %v", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	return assets, repo
}

// newLab builds a lab with the seed's hosts booted (not yet clustered, every image and the extra
// image tarballs imported), closed at test cleanup; on failure the nodes' logs are copied to a
// folder named in the test log.
func newLab(t testing.TB, assets, repo string, extraImages ...string) (*Lab, []Host) {
	start := time.Now()
	lab, err := New(Options{Assets: assets, Repo: repo, Logf: func(f string, a ...any) {
		line := fmt.Sprintf("%6.1fs "+f, append([]any{time.Since(start).Seconds()}, a...)...)
		if _, bench := t.(*testing.B); bench {
			// A benchmark's log is printed only at its end, and cut short there: print the
			// progress as it comes.
			fmt.Fprintln(os.Stderr, line)
			return
		}
		t.Log(line)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := t.(*failureLog); ok {
		f.onFirst = func() { saveLogs(t, lab) }
	}
	t.Cleanup(func() {
		if t.Failed() {
			saveLogs(t, lab)
		}
		begin := time.Now()
		if err := lab.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		t.Logf("cleanup took %s", time.Since(begin).Round(time.Millisecond))
	})
	if err := lab.BuildImages(); err != nil {
		t.Fatal(err)
	}
	lab.Images = append(lab.Images, extraImages...)
	lab.Logf("images ready")
	_, hosts := Seed()
	for _, h := range hosts {
		if _, err := lab.AddNode(h.Name, h.Addr, h.PodCIDR); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(hosts))
	for i, n := range lab.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.Start()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lab.Logf("nodes booted: containerd running, images imported, kubelet waiting for kubeadm")
	return lab, hosts
}

// saveLogs copies every node's kubelet, containerd and Pod logs (keepalived's are the agents')
// to a new folder under /tmp that outlives the lab, and names it.
func saveLogs(t testing.TB, lab *Lab) string {
	dir, err := os.MkdirTemp("", "hacp-kubeadm-lab-logs-")
	if err != nil {
		return ""
	}
	for _, n := range lab.Nodes() {
		_ = exec.Command("mkdir", "-p", filepath.Join(dir, n.Name)).Run()
		for _, f := range []string{"kubelet.log", "containerd.log", "var-log/pods", "etc-kubernetes/manifests", "kubeadm-init.yaml"} {
			_ = exec.Command("cp", "-a", filepath.Join(n.Dir, f), filepath.Join(dir, n.Name)).Run()
		}
	}
	t.Logf("node logs saved in %s", dir)
	return dir
}

// TestKubeadmLab: kubeadm init on h1 with the VIP as endpoint, kube-proxy and the bridge CNI working
// (a Pod reaches the API through the kubernetes Service), h2 and h3 joined as control-plane nodes,
// h4 as a worker, every Node Ready.
func TestKubeadmLab(tt *testing.T) {
	t := recordFailures(tt)
	assets, repo := requireLab(t)
	lab, _ := newLab(t, assets, repo)
	vip, _ := Seed()
	endpoint := vip.String() + ":6443"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	h1 := lab.Node("h1")
	certKey := NewCertificateKey()

	// Milestone 1: one control-plane node, the VIP on it by hand.
	if err := h1.AddAddr(vip.String() + "/32"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	out, err := h1.Init(ctx, ClusterConfig{Endpoint: endpoint, CertificateKey: certKey})
	if err != nil {
		t.Fatal(err)
	}
	lab.Logf("kubeadm init on h1 took %s", time.Since(begin).Round(time.Millisecond))
	t.Log(lastLines(out, 6))
	cfg, err := h1.RESTConfig(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	wait := func(what string, d time.Duration, f func(context.Context) error) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		begin := time.Now()
		if err := f(wctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		lab.Logf("%s after %s", what, time.Since(begin).Round(time.Millisecond))
	}
	wait("h1 Ready", 3*time.Minute, func(ctx context.Context) error { return WaitNodesReady(ctx, client, "h1") })
	wait("kube-proxy running on h1", 3*time.Minute, func(ctx context.Context) error {
		return WaitPodsRunning(ctx, client, "kube-system", "k8s-app=kube-proxy", 1)
	})
	wait("a Pod on h1 reached the API through the kubernetes Service", 3*time.Minute, func(ctx context.Context) error {
		return reachAPIFromPod(ctx, client, "h1")
	})

	// Milestone 2: h2 and h3 join the control plane, h4 as a worker.
	join, err := h1.WorkerJoinCommand(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"h2", "h3", "h4"} {
		cmd := join
		if name != "h4" {
			cmd += " --control-plane --certificate-key " + certKey
		}
		begin := time.Now()
		if _, err := lab.Node(name).Join(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		lab.Logf("kubeadm join on %s took %s", name, time.Since(begin).Round(time.Millisecond))
	}
	wait("h1-h4 Ready", 5*time.Minute, func(ctx context.Context) error {
		return WaitNodesReady(ctx, client, "h1", "h2", "h3", "h4")
	})
	wait("kube-proxy running on h1-h4", 5*time.Minute, func(ctx context.Context) error {
		return WaitPodsRunning(ctx, client, "kube-system", "k8s-app=kube-proxy", 4)
	})
	wait("a Pod on h4 reached the API through the kubernetes Service", 3*time.Minute, func(ctx context.Context) error {
		return reachAPIFromPod(ctx, client, "h4")
	})
	wait("etcd and kube-apiserver running on h1-h3", 3*time.Minute, func(ctx context.Context) error {
		if err := WaitPodsRunning(ctx, client, "kube-system", "component=etcd", 3); err != nil {
			return err
		}
		return WaitPodsRunning(ctx, client, "kube-system", "component=kube-apiserver", 3)
	})
}

// reachAPIFromPod runs kubectl in a Pod on node: with its ServiceAccount, through the kubernetes
// Service's IP (kube-proxy's rules, the bridge CNI, routes between nodes), it reads /version.
func reachAPIFromPod(ctx context.Context, c kubernetes.Interface, node string) error {
	name := "reach-api-" + node
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "kubectl", Image: KubectlImage, ImagePullPolicy: corev1.PullNever,
				Args: []string{"get", "--raw", "/version", "-v=6"},
			}},
		},
	}
	// The default ServiceAccount appears shortly after kubeadm init.
	if err := poll(ctx, func() (bool, string, error) {
		_, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		return err
	}
	defer func() {
		_ = c.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	}()
	var phase corev1.PodPhase
	if err := poll(ctx, func() (bool, string, error) {
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, fmt.Sprintf("%s %v", phase, p.Status.ContainerStatuses), nil
	}); err != nil {
		return err
	}
	logs, err := c.CoreV1().Pods("default").GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return err
	}
	// kubectl -v=6 logs the URL it used: the kubernetes Service's IP, the first of ServiceSubnet.
	if phase != corev1.PodSucceeded || !strings.Contains(string(logs), KubernetesVersion) ||
		!strings.Contains(string(logs), "https://"+ServiceSubnet.Addr().Next().String()+":443/version") {
		return fmt.Errorf("pod %s %s: %s", name, phase, logs)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// failureLog repeats every failure of a lab test at the very end of its log, after the lab's
// cleanup, so that a CI that shows only the tail of the output shows why the test failed; and when
// the first failure happens it saves the nodes' logs at once, since later steps delete hacp's Pods
// and their logs with them.
type failureLog struct {
	testing.TB
	mu      sync.Mutex
	msgs    []string
	onFirst func()
}

// recordFailures wraps t; call it before newLab so that its summary is the last thing logged.
func recordFailures(t testing.TB) *failureLog {
	f := &failureLog{TB: t}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.msgs) > 0 {
			t.Logf("%d failure(s), in order:\n  %s", len(f.msgs), strings.Join(f.msgs, "\n  "))
		}
	})
	return f
}

func (f *failureLog) record(msg string) {
	f.mu.Lock()
	f.msgs = append(f.msgs, msg)
	first, hook := len(f.msgs) == 1, f.onFirst
	f.mu.Unlock()
	if first && hook != nil {
		hook()
	}
}

func (f *failureLog) Error(a ...any) {
	f.TB.Helper()
	f.record(fmt.Sprint(a...))
	f.TB.Error(a...)
}

func (f *failureLog) Errorf(format string, a ...any) {
	f.TB.Helper()
	f.record(fmt.Sprintf(format, a...))
	f.TB.Errorf(format, a...)
}

func (f *failureLog) Fatal(a ...any) {
	f.TB.Helper()
	f.record(fmt.Sprint(a...))
	f.TB.Fatal(a...)
}

func (f *failureLog) Fatalf(format string, a ...any) {
	f.TB.Helper()
	f.record(fmt.Sprintf(format, a...))
	f.TB.Fatalf(format, a...)
}
