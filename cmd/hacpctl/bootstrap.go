package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/agent"
	"hacp.dev/hacp/internal/bootstrap"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/manifest"
)

// runBootstrap writes what the first node needs before `kubeadm init`: the one-member keepalived
// config and the static Pod that runs it, and prints the commands to install them and to init.
func runBootstrap(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var file, vipgroup, node, iface, image, passwordFile, out string
	fs.StringVar(&file, "f", "", "multi-document YAML holding the VIPGroup and HAControlPlane (such as examples/haclusterplane.yaml)")
	fs.StringVar(&vipgroup, "vipgroup", "", "name of the VIPGroup in FILE (default: the only one)")
	fs.StringVar(&node, "node", "", "the first control-plane node, NAME=ADDRESS (its InternalIP)")
	fs.StringVar(&iface, "interface", "", "interface for VRRP and the VIP (default: the VIPGroup's spec.interface, else the one holding the node's address on this machine, else eth0)")
	fs.StringVar(&image, "image", "", "hacp image for the static Pod (default: the VIPGroup's spec.image)")
	fs.StringVar(&passwordFile, "password-file", "", "VRRPv2 password for the bootstrap keepalived (default: generated; it never talks to the DaemonSet's keepalived)")
	fs.StringVar(&out, "out", ".", "directory to write keepalived.conf and "+contract.BootstrapManifestName+" to")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hacpctl bootstrap -f FILE --node NAME=ADDRESS [--image IMAGE] [--out DIR] [flags]")
		fs.PrintDefaults()
	}
	self, vg, code, ok := parseNodeCommand("bootstrap", fs, args, stderr, &file, &vipgroup, &node)
	if !ok {
		return code
	}
	fail := failer("bootstrap", stderr)
	if iface != "" && !keepalived.IsInterfaceName(iface) {
		return fail("--interface %q is not a network interface name (at most 15 letters, digits, '_', '.', '@' or '-')", iface)
	}
	if image == "" {
		image = vg.Spec.Image
	}
	if image == "" {
		return fail("--image is required: the VIPGroup in %s names no spec.image", file)
	}
	endpoint, err := controlPlaneEndpoint(file, vg)
	if err != nil {
		return fail("%v", err)
	}

	// One member, weighted mode: no API server exists yet, so a quorum-aware check would keep
	// the VIP down forever; with one member the weight changes nothing anyway.
	spec := keepalived.Defaulted(vg.Spec)
	opts := keepalived.DefaultOptions()
	switch {
	case iface != "":
		opts.DefaultInterface = iface
	case spec.Interface != "":
	default:
		// hacpctl bootstrap runs on the first node itself: its own interfaces say which one.
		if found, err := agent.InterfaceOf(self.Addresses[0].String()); err == nil {
			opts.DefaultInterface = found
		} else {
			fmt.Fprintf(stderr, "hacpctl bootstrap: note: this machine does not hold %s, so the interface is %s; pass --interface if %s's differs.\n",
				self.Addresses[0], opts.DefaultInterface, self.Name)
		}
	}
	in := keepalived.Input{Namespace: vg.Namespace, Name: vg.Name, Spec: spec, Mode: hacpv1.HealthCheckWeighted, Options: opts, Bootstrap: true,
		Members: []keepalived.Member{self}}
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	if spec.VRRPVersion == 2 {
		in.Password = keepalived.GeneratePassword()
		if passwordFile != "" {
			pw, err := readPasswordFile(passwordFile)
			if err != nil {
				return fail("%v", err)
			}
			in.Password = pw
		}
	} else if passwordFile != "" {
		return fail("--password-file: VRRPv3 has no authentication; remove the flag or use vrrpVersion 2")
	}
	cfg, err := keepalived.RenderNode(in, self.Name)
	if err != nil {
		return fail("%v", err)
	}
	podYAML, err := bootstrap.Manifest(bootstrap.Options{Image: image, HandoverSocket: contract.HandoverSocket(in.Namespace, vg.Name)})
	if err != nil {
		return fail("%v", err)
	}
	var advertise netip.Addr
	for _, a := range self.Addresses {
		if a.Is4() == endpointIs4(endpoint) {
			advertise = a
			break
		}
	}
	initCmd, err := bootstrap.KubeadmInit(endpoint, advertise)
	if err != nil {
		return fail("%v", err)
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail("%v", err)
	}
	confPath := filepath.Join(out, "keepalived.conf")
	podPath := filepath.Join(out, contract.BootstrapManifestName)
	for path, data := range map[string][]byte{confPath: cfg.Text, podPath: podYAML} {
		if err := writePrivate(path, data); err != nil {
			return fail("%v", err)
		}
	}
	ifaceUsed := spec.Interface
	if ifaceUsed == "" {
		ifaceUsed = opts.DefaultInterface
	}
	fmt.Fprintf(stdout, `# Wrote %s (the VIP %s on %s's %s, VRID %d) and %s.
# On %s, before kubeadm init:
sudo install -D -m 0600 %s %s/keepalived.conf
sudo install -D -m 0600 %s %s/%s
# kubelet starts the static Pod as soon as kubeadm init starts kubelet; the VIP answers before
# kubeadm needs it.
sudo %s

# Then, with the cluster up and its pod network applied, install hacp (from its repository) and
# apply the resources (CONFIG=with-pki lets hacp publish control-plane join commands):
make deploy IMG=%s CONFIG=with-pki
kubectl apply -f %s
# The VIPGroup's DaemonSet takes the VIP over on %s without dropping it; the bootstrap Pod removes
# its own manifest. Check with:
kubectl -n %s get vipg %s
kubectl -n kube-system get pod %s-%s   # NotFound once retired
`, confPath, strings.Join(spec.VirtualIPs, ","), self.Name, ifaceUsed, spec.VirtualRouterID, podPath,
		self.Name,
		confPath, contract.BootstrapConfigDir,
		podPath, contract.ManifestDir, contract.BootstrapManifestName,
		initCmd, image, file, self.Name, in.Namespace, vg.Name, bootstrap.PodName, self.Name)
	return 0
}

// writePrivate writes data to path readable by its owner only, also when path exists with a wider
// mode: the mode is narrowed before anything is written.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func endpointIs4(endpoint string) bool {
	host, _, _ := net.SplitHostPort(endpoint)
	a, err := netip.ParseAddr(host)
	return err != nil || a.Is4()
}

// controlPlaneEndpoint is the HAControlPlane's endpoint in file when there is one (its host must
// be one of the VIPGroup's VIPs), else the first VIP with the health check's port.
func controlPlaneEndpoint(file string, vg *hacpv1.VIPGroup) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	objs, err := manifest.Decode(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	for _, o := range objs {
		if o.GetKind() != "HAControlPlane" {
			continue
		}
		var hacp hacpv1.HAControlPlane
		if _, err := manifest.Into([]*unstructured.Unstructured{o}, "HAControlPlane", &hacp); err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		// Without vipGroupRef the endpoint is still the one kubeadm init is given: it must be a VIP.
		if ref := hacp.Spec.VIPGroupRef; ref != nil && ref.Name != vg.Name {
			continue
		}
		host, _, err := net.SplitHostPort(hacp.Spec.ControlPlaneEndpoint)
		if err != nil {
			return "", fmt.Errorf("HAControlPlane %s: controlPlaneEndpoint %q: %w", hacp.Name, hacp.Spec.ControlPlaneEndpoint, err)
		}
		if !slices.Contains(vg.Spec.VirtualIPs, host) {
			return "", fmt.Errorf("HAControlPlane %s: controlPlaneEndpoint %s is not one of VIPGroup %s's virtualIPs %v: kubeadm init would point every kubeconfig at an address keepalived does not hold",
				hacp.Name, hacp.Spec.ControlPlaneEndpoint, vg.Name, vg.Spec.VirtualIPs)
		}
		return hacp.Spec.ControlPlaneEndpoint, nil
	}
	if len(vg.Spec.VirtualIPs) == 0 {
		return "", fmt.Errorf("VIPGroup %s has no virtualIPs", vg.Name)
	}
	port := keepalived.Defaulted(vg.Spec).HealthCheck.APIServerPort
	return net.JoinHostPort(vg.Spec.VirtualIPs[0], strconv.Itoa(int(port))), nil
}
