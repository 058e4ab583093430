package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

func TestBootstrapWritesTheSeedNodesFiles(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"bootstrap", "-f", example, "--node", "h1=192.168.1.12", "--image", "registry.example/hacp:v1", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	conf, err := os.ReadFile(filepath.Join(out, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := keepalived.Lint(conf); err != nil {
		t.Fatalf("bootstrap config fails Lint: %v\n%s", err, conf)
	}
	for _, want := range []string{
		"192.168.1.8/31 dev eth0 noprefixroute", // distinct from the DaemonSet's /32 (see internal/agent/handover.go)
		"virtual_router_id 68",
		"weight -100", // weighted: no API server exists yet
		"auth_pass ",
	} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(string(conf), "unicast_peer") {
		t.Error("the bootstrap config has peers; it is for the first node alone")
	}
	podYAML, err := os.ReadFile(filepath.Join(out, contract.BootstrapManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(podYAML, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Containers[0].Image != "registry.example/hacp:v1" {
		t.Errorf("image %q", pod.Spec.Containers[0].Image)
	}
	// The socket of this VIPGroup: the one its DaemonSet's agents ask on, no other group's.
	if want := "--handover-socket=" + contract.HandoverSocket("kube-system", "kube-apiserver"); !slices.Contains(pod.Spec.Containers[0].Args, want) {
		t.Errorf("args %v lack %s", pod.Spec.Containers[0].Args, want)
	}
	for _, f := range []string{"keepalived.conf", contract.BootstrapManifestName} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600: the config holds the VRRP password", f, st.Mode().Perm(), err)
		}
	}
	for _, want := range []string{
		"kubeadm init --control-plane-endpoint=192.168.1.8:6443 --upload-certs --apiserver-advertise-address=192.168.1.12",
		"/etc/kubernetes/manifests/hacp-bootstrap.yaml",
		"/etc/hacp/bootstrap/keepalived.conf",
		"kubectl apply -f " + example,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, stdout.String())
		}
	}
}

func TestBootstrapRefusesWhatWouldNotWork(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	mismatch := filepath.Join(dir, "mismatch.yaml")
	if err := os.WriteFile(mismatch, bytes.Replace(example, []byte("controlPlaneEndpoint: 192.168.1.8:6443"), []byte("controlPlaneEndpoint: 192.168.1.99:6443"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// An HAControlPlane without vipGroupRef: once a nil dereference.
	noRef := filepath.Join(dir, "noref.yaml")
	withoutRef := bytes.Replace(example, []byte("  vipGroupRef:\n    name: kube-apiserver\n"), nil, 1)
	if bytes.Equal(withoutRef, example) {
		t.Fatal("the example has no vipGroupRef to remove")
	}
	if err := os.WriteFile(noRef, bytes.Replace(withoutRef, []byte("controlPlaneEndpoint: 192.168.1.8:6443"), []byte("controlPlaneEndpoint: 192.168.1.99:6443"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no image":                           {[]string{"-f", "../../examples/haclusterplane.yaml", "--node", "h1=192.168.1.12"}, "--image is required"},
		"no node":                            {[]string{"-f", "../../examples/haclusterplane.yaml", "--image", "x"}, "--node NAME=ADDRESS are required"},
		"endpoint not VIP":                   {[]string{"-f", mismatch, "--node", "h1=192.168.1.12", "--image", "x"}, "is not one of VIPGroup kube-apiserver's virtualIPs"},
		"node is the VIP":                    {[]string{"-f", "../../examples/haclusterplane.yaml", "--node", "h1=192.168.1.8", "--image", "x"}, "192.168.1.8"},
		"bad node address":                   {[]string{"-f", "../../examples/haclusterplane.yaml", "--node", "h1=h1.example", "--image", "x"}, "not an IP address"},
		"interface with a newline":           {[]string{"-f", "../../examples/haclusterplane.yaml", "--node", "h1=192.168.1.12", "--image", "x", "--interface", "eth0\n}\nvrrp_script x {"}, "--interface"},
		"no vipGroupRef, endpoint not a VIP": {[]string{"-f", noRef, "--node", "h1=192.168.1.12", "--image", "x"}, "is not one of VIPGroup kube-apiserver's virtualIPs"},
		"stray argument":                     {[]string{"-f", "../../examples/haclusterplane.yaml", "--node", "h1=192.168.1.12", "--image", "x", "extra"}, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"bootstrap", "--out", t.TempDir()}, tc.args...)
			if code := run(args, &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}

// hacpctl bootstrap runs on the first node: the interface holding the node's address there is the
// VRRP interface unless one is given.
func TestBootstrapFindsTheNodesInterface(t *testing.T) {
	// Any global IPv4 address of this machine stands in for h1's (rendering sends nothing).
	var ifName, addr string
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && p.Addr().IsGlobalUnicast() && ifName == "" {
				ifName, addr = i.Name, p.Addr().String()
			}
		}
	}
	if ifName == "" {
		t.Skip("this machine has no global IPv4 address to stand in for the node's")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bootstrap", "-f", example, "--node", "h1=" + addr, "--image", "x", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	conf, err := os.ReadFile(filepath.Join(out, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "interface "+ifName+"\n") || !strings.Contains(stdout.String(), "on h1's "+ifName) {
		t.Fatalf("the interface holding %s (%s) was not used:\n%s\n%s", addr, ifName, conf, stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"bootstrap", "-f", example, "--node", "h1=198.51.100.250", "--image", "x", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "this machine does not hold 198.51.100.250, so the interface is eth0") {
		t.Fatalf("no note about the interface: %q", stderr.String())
	}
}

// A keepalived.conf left 0644 by an earlier tool (or an earlier run under another umask) holds the
// new password: it must not stay world-readable.
func TestBootstrapNarrowsTheModeOfExistingFiles(t *testing.T) {
	out := t.TempDir()
	for _, f := range []string{"keepalived.conf", contract.BootstrapManifestName} {
		if err := os.WriteFile(filepath.Join(out, f), []byte("old contents, longer than what replaces them? no: shorter"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bootstrap", "-f", example, "--node", "h1=192.168.1.12", "--image", "x", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"keepalived.conf", contract.BootstrapManifestName} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
		data, _ := os.ReadFile(filepath.Join(out, f))
		if bytes.Contains(data, []byte("old contents")) {
			t.Errorf("%s keeps the old contents:\n%s", f, data)
		}
	}
	// An HAControlPlane without vipGroupRef whose endpoint is a VIP works like one with it.
	example, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	noRef := filepath.Join(t.TempDir(), "noref.yaml")
	if err := os.WriteFile(noRef, bytes.Replace(example, []byte("  vipGroupRef:\n    name: kube-apiserver\n"), nil, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"bootstrap", "-f", noRef, "--node", "h1=192.168.1.12", "--image", "x", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "--control-plane-endpoint=192.168.1.8:6443") {
		t.Errorf("instructions lack the endpoint:\n%s", stdout.String())
	}
}
