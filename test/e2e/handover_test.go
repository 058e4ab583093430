package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/manifest"
	"hacp.dev/hacp/test/testbin"
)

// TestBootstrapHandover follows the README's quick start on h1: `hacpctl bootstrap` writes the
// bootstrap keepalived.conf and static Pod; "kubelet" runs the Pod's command with its host
// mounts; the VIP comes up before any API server would. Then the user applies the resources,
// the DaemonSet's agent starts on h1 and takes the VIP over without it leaving h1, and the
// bootstrap Pod removes its own manifest.
func TestBootstrapHandover(t *testing.T) {
	e := NewEnv(t)
	p := DefaultProfile // the example's timing: VRRPv2, 1 s adverts
	hacpctl := testbin.Build(t, "./cmd/hacpctl", "hacpctl")
	h1 := e.Hosts["h1"]
	work := t.TempDir()

	// The user's haclusterplane.yaml for this lab.
	vg := vipGroupFor(p, hacpv1.HealthCheckQuorumAware)
	hacp := &hacpv1.HAControlPlane{
		TypeMeta:   metav1.TypeMeta{APIVersion: hacpv1.GroupVersion.String(), Kind: "HAControlPlane"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: ns},
		Spec: hacpv1.HAControlPlaneSpec{
			ControlPlaneEndpoint: VIP.String() + ":6443",
			VIPGroupRef:          &hacpv1.LocalObjectReference{Name: vg.Name},
		},
	}
	var doc bytes.Buffer
	for _, o := range []any{vg, hacp} {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		doc.WriteString("---\n")
		doc.Write(b)
	}
	resources := filepath.Join(work, "haclusterplane.yaml")
	if err := os.WriteFile(resources, doc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Log("hacpctl bootstrap on h1")
	out := filepath.Join(work, "bootstrap")
	cmd := exec.Command(hacpctl, "bootstrap", "-f", resources, "--node", "h1=198.51.100.11", "--image", "hacp:e2e", "--out", out)
	instructions, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hacpctl bootstrap: %v\n%s", err, instructions)
	}
	if want := "kubeadm init --control-plane-endpoint=198.51.100.100:6443 --upload-certs --apiserver-advertise-address=198.51.100.11"; !strings.Contains(string(instructions), want) {
		t.Fatalf("instructions lack %q:\n%s", want, instructions)
	}

	// The node's filesystem as the instructions install it. The check command is the image's
	// path; here the agent binary lives elsewhere.
	hostConfigDir := filepath.Join(work, "h1-etc-hacp-bootstrap")
	hostManifestDir := filepath.Join(work, "h1-etc-kubernetes-manifests")
	for _, d := range []string{hostConfigDir, hostManifestDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := os.ReadFile(filepath.Join(out, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf = bytes.ReplaceAll(conf, []byte(keepalived.DefaultOptions().CheckCommand), []byte(e.checkBin))
	if err := os.WriteFile(filepath.Join(hostConfigDir, "keepalived.conf"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	podYAML, err := os.ReadFile(filepath.Join(out, contract.BootstrapManifestName))
	if err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(hostManifestDir, contract.BootstrapManifestName)
	if err := os.WriteFile(manifestPath, podYAML, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Log("kubelet starts the static Pod")
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(podYAML, &pod); err != nil {
		t.Fatal(err)
	}
	bootDir := filepath.Join(work, "h1-bootstrap-pod-run")
	if err := os.MkdirAll(bootDir, 0o700); err != nil {
		t.Fatal(err)
	}
	args := kubeletArgs(t, &pod, map[string]string{contract.BootstrapConfigDir: hostConfigDir, contract.ManifestDir: hostManifestDir})
	// What differs in this lab: the binaries' paths, the namespace wrap, and the per-host socket.
	args = append(args, "--dir="+bootDir, "--fifo="+filepath.Join(bootDir, "keepalived.fifo"), "--keepalived=keepalived",
		"--wrap="+e.wrap(h1, bootDir), "--handover-socket="+handoverSocket("h1"))
	var bootOut syncBuffer
	boot := exec.Command(e.agentBin, args...)
	boot.Stdout, boot.Stderr = &bootOut, &bootOut
	if err := boot.Start(); err != nil {
		t.Fatal(err)
	}
	bootDone := make(chan error, 1)
	go func() { bootDone <- boot.Wait() }()
	t.Cleanup(func() {
		_ = boot.Process.Kill()
		<-bootDone
		bootDone <- nil
		killKeepalived(h1)
	})
	defer func() {
		if t.Failed() {
			t.Logf("--- bootstrap agent ---\n%s", bootOut.String())
		}
	}()
	e.WaitHolder("h1", 30*time.Second)

	t.Log("kubectl apply -f haclusterplane.yaml; the DaemonSet's agent starts on h1")
	s := e.Sample(10 * time.Millisecond)
	applyFile(t, e.Client, resources)
	e.StartAgent("h1")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(manifestPath); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			e.Dump()
			t.Fatalf("the bootstrap Pod did not remove its manifest:\n%s", bootOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Log("the manifest is gone: kubelet stops the bootstrap Pod")
	_ = boot.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-bootDone:
		bootDone <- err
		if err != nil {
			t.Fatalf("the bootstrap agent exited with %v after retiring:\n%s", err, bootOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bootstrap agent did not exit on SIGTERM")
	}
	e.WaitMaster("h1", 30*time.Second)
	time.Sleep(time.Duration(p.AdvertMilliseconds) * time.Millisecond)
	samples := s.Stop()

	without := 0
	for _, smp := range samples {
		if len(smp.Holders) != 1 || smp.Holders[0] != "h1" {
			without++
		}
	}
	t.Logf("%d samples over %s from apply to settled: %d without h1 as the only holder (advert interval %d ms)",
		len(samples), samples[len(samples)-1].At.Sub(samples[0].At).Round(time.Millisecond), without, p.AdvertMilliseconds)
	if without > 0 {
		t.Errorf("the VIP left h1 (or was also elsewhere) in %d samples during the handover; longest gap %s", without, longestGap(samples))
	}
	for _, pid := range keepalivedPIDs(h1) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if strings.Contains(string(cmdline), bootDir) {
			t.Errorf("the bootstrap keepalived (pid %s) still runs", pid)
		}
	}

	t.Log("the handover is on record as an Event of h1's agent Pod")
	deadline = time.Now().Add(15 * time.Second)
	for {
		var events corev1.EventList
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := e.Client.List(ctx, &events, client.InNamespace(ns))
		cancel()
		found := ""
		for _, ev := range events.Items {
			if ev.Reason == "BootstrapRetired" && ev.InvolvedObject.Name == "vip-keepalived-h1" {
				found = ev.Message
			}
		}
		if err == nil && found != "" {
			t.Logf("event: %s", found)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no BootstrapRetired event on vip-keepalived-h1 (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Log("the VIP is the DaemonSet's: h2 and h3 join, h1 drains, the VIP moves and leaves nothing on h1")
	e.StartAgent("h2")
	e.StartAgent("h3")
	waitConfigs(t, e, 3)
	time.Sleep(p.MasterDown()) // h2 and h3 settle as backups
	e.StopAgent("h1")
	e.WaitHolder("h2", 15*time.Second)
	if entries := vipEntries(h1); len(entries) != 0 {
		t.Fatalf("h1 still has VIP entries %v after its agent stopped", entries)
	}
	e.WaitMaster("h2", 30*time.Second)
}

// kubeletArgs returns the container's command line with each path under a volume mount mapped
// to the host directory the test uses for that hostPath volume.
func kubeletArgs(t *testing.T, pod *corev1.Pod, hostDirs map[string]string) []string {
	t.Helper()
	c := pod.Spec.Containers[0]
	if len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/hacp-agent" {
		t.Fatalf("command %v", c.Command)
	}
	mounts := map[string]string{} // mountPath -> test directory
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil {
				dir, ok := hostDirs[v.HostPath.Path]
				if !ok {
					t.Fatalf("the Pod mounts host path %s, which the test does not provide", v.HostPath.Path)
				}
				mounts[m.MountPath] = dir
			}
		}
	}
	var args []string
	for _, a := range c.Args {
		for mountPath, dir := range mounts {
			if i := strings.Index(a, mountPath+"/"); i >= 0 {
				a = a[:i] + dir + a[i+len(mountPath):]
			}
		}
		args = append(args, a)
	}
	return args
}

// applyFile creates what a manifest file holds, as `kubectl apply -f` would on a fresh cluster.
func applyFile(t *testing.T, c client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, o := range objs {
		if err := c.Create(ctx, (*unstructured.Unstructured)(o)); err != nil {
			t.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func waitConfigs(t *testing.T, e *Env, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.Configs()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("the config Secret has %d nodes, want %d", len(e.Configs()), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vipEntries lists the VIP's address entries on h's eth0, whatever their prefix.
func vipEntries(h *Host) []netip.Prefix {
	entries, _ := h.AddrEntries(VIP)
	return entries
}
