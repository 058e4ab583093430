package bootstrap

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"hacp.dev/hacp/internal/contract"
)

func TestKubeadmInit(t *testing.T) {
	for name, tc := range map[string]struct {
		endpoint  string
		advertise netip.Addr
		want      string
		err       string
	}{
		"the seed": {"192.168.1.8:6443", netip.MustParseAddr("192.168.1.12"),
			"kubeadm init --control-plane-endpoint=192.168.1.8:6443 --upload-certs --apiserver-advertise-address=192.168.1.12", ""},
		"no advertise address": {"192.168.1.8:6443", netip.Addr{},
			"kubeadm init --control-plane-endpoint=192.168.1.8:6443 --upload-certs", ""},
		// The VIP reaches the API server directly (no load balancer), so it must listen on the
		// endpoint's port.
		"another port": {"192.168.1.8:8443", netip.Addr{},
			"kubeadm init --control-plane-endpoint=192.168.1.8:8443 --upload-certs --apiserver-bind-port=8443", ""},
		"IPv6": {"[2001:db8::8]:6443", netip.MustParseAddr("2001:db8::12"),
			"kubeadm init --control-plane-endpoint=[2001:db8::8]:6443 --upload-certs --apiserver-advertise-address=2001:db8::12", ""},
		"no port": {"192.168.1.8", netip.Addr{}, "", "missing port"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := KubeadmInit(tc.endpoint, tc.advertise)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestStaticPodIsLeastPrivilege(t *testing.T) {
	data, err := Manifest(Options{Image: "registry.example/hacp:v1"})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		t.Fatalf("the manifest is not a strict Pod: %v\n%s", err, data)
	}
	if strings.Contains(string(data), "status:") || strings.Contains(string(data), "creationTimestamp") {
		t.Errorf("the manifest carries empty status or metadata fields:\n%s", data)
	}
	if pod.Name != PodName || pod.Namespace != "kube-system" || !pod.Spec.HostNetwork {
		t.Fatalf("name %s/%s hostNetwork %v", pod.Namespace, pod.Name, pod.Spec.HostNetwork)
	}
	c := pod.Spec.Containers[0]
	if c.Image != "registry.example/hacp:v1" || c.Args[0] != "bootstrap" {
		t.Fatalf("container %s %v", c.Image, c.Args)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem {
		t.Fatalf("security context %+v", sc)
	}
	if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Fatalf("capabilities %+v: want drop ALL", sc.Capabilities)
	}
	for _, cp := range sc.Capabilities.Add {
		if cp == "SYS_ADMIN" || cp == "ALL" {
			t.Fatalf("capability %s added", cp)
		}
	}
	if pod.Spec.ShareProcessNamespace == nil || !*pod.Spec.ShareProcessNamespace {
		t.Fatal("no shared process namespace: the agent would be PID 1 and leave keepalived's orphans unreaped")
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Fatal("the bootstrap Pod needs no API token")
	}
	// Only the config directory and kubelet's manifest directory come from the host; the config
	// read-only. The manifest path the agent removes must be inside the mounted directory.
	hostPaths := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	if len(hostPaths) != 2 || hostPaths["config"] != contract.BootstrapConfigDir || hostPaths["manifests"] != contract.ManifestDir {
		t.Fatalf("host paths %v", hostPaths)
	}
	for _, m := range c.VolumeMounts {
		if m.Name == "config" && !m.ReadOnly {
			t.Fatal("the config directory is mounted writable")
		}
	}
	var manifestArg string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--manifest="); ok {
			manifestArg = v
		}
	}
	if manifestArg != contract.ManifestDir+"/"+contract.BootstrapManifestName {
		t.Fatalf("--manifest=%q", manifestArg)
	}
}

func TestStandbyPod(t *testing.T) {
	b, err := StandbyManifest(StandbyOptions{Image: "hacp:x", Namespace: "kube-system", Name: "kube-apiserver"})
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"name: hacp-standby-kube-apiserver", "- standby", "--config=/etc/hacp/standby/kube-system_kube-apiserver/keepalived.conf",
		"--handover-socket=hacp-standby/kube-system/kube-apiserver", "--active-socket=hacp-active/kube-system/kube-apiserver",
		"type: DirectoryOrCreate", "readOnly: true", "hostNetwork: true", "system-node-critical", "image: hacp:x",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the standby manifest lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"/etc/kubernetes/manifests", "--manifest"} {
		if strings.Contains(text, never) {
			t.Errorf("the standby manifest mentions %q: it never removes itself", never)
		}
	}
	// Its mirror Pod tells the manager whether it runs keepalived: it is in the manager's Pod
	// cache (tier=control-plane), found by group, and Ready exactly while keepalived runs.
	p := StandbyPod(StandbyOptions{Image: "hacp:x", Namespace: "kube-system", Name: "kube-apiserver"})
	if p.Labels[contract.LabelTier] != contract.TierControlPlane || p.Labels[contract.LabelVIPGroup] != "kube-apiserver" || !contract.IsStandby(p) {
		t.Errorf("standby labels %v: want tier=control-plane, the group's name and component=standby", p.Labels)
	}
	probe := p.Spec.Containers[0].ReadinessProbe
	if probe == nil || probe.Exec == nil || strings.Join(probe.Exec.Command, " ") != contract.CheckBinary+" ready --dir="+contract.RunDir {
		t.Errorf("standby readiness probe %+v: want hacp-check ready on its run folder", probe)
	}
}
