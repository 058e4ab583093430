// Package bootstrap builds what the first control-plane node needs before the cluster exists:
// a static Pod that runs hacp's agent with a one-member keepalived config, so the VIP answers
// when `kubeadm init --control-plane-endpoint VIP:PORT` needs it, and the kubeadm command
// itself. The static Pod retires itself once the VIPGroup's DaemonSet runs on the node (see
// internal/agent's Handover).
package bootstrap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"hacp.dev/hacp/internal/contract"
)

// PodName is the static Pod's name (its mirror Pod is PodName-<node>).
const PodName = "hacp-bootstrap"

// Options shape the static Pod.
type Options struct {
	// Image holds hacp-agent and keepalived (the same image as the VIPGroup's DaemonSet).
	Image string
	// Namespace of the mirror Pod (default kube-system).
	Namespace string
	// HandoverSocket is the abstract socket the bootstrap agent answers on: the one the
	// VIPGroup's DaemonSet asks on (contract.HandoverSocket of the group).
	HandoverSocket string
}

// StaticPod returns the bootstrap static Pod. It mounts the config directory read-only and
// kubelet's manifest directory so that it can remove its own manifest after the handover;
// nothing else of the host.
func StaticPod(o Options) *corev1.Pod {
	ns := o.Namespace
	if ns == "" {
		ns = "kube-system"
	}
	socket := o.HandoverSocket
	if socket == "" {
		socket = contract.DefaultHandoverSocket
	}
	configMount, configVolume := contract.HostDir("config", contract.BootstrapConfigDir, corev1.HostPathDirectory, true)
	manifestsMount, manifestsVolume := contract.HostDir("manifests", contract.ManifestDir, corev1.HostPathDirectory, false)
	spec := contract.PodSpec(
		contract.Container(o.Image, contract.BootstrapArgs(socket), append([]corev1.VolumeMount{configMount, manifestsMount}, contract.RuntimeMounts()...)),
		append([]corev1.Volume{configVolume, manifestsVolume}, contract.RuntimeVolumes()...))
	// As kubeadm's own static Pods: kubelet reads the number, the mirror Pod the class.
	spec.Priority = ptr.To[int32](2000001000)
	// No API server is needed (none exists yet), so no token either.
	spec.AutomountServiceAccountToken = ptr.To(false)
	spec.EnableServiceLinks = ptr.To(false)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      PodName,
			Namespace: ns,
			Labels: map[string]string{
				"app.kubernetes.io/name":    contract.AppName,
				contract.LabelComponent:     contract.ComponentBootstrap,
				"app.kubernetes.io/part-of": "hacp",
			},
			Annotations: map[string]string{
				"hacp.dev/purpose": "Holds the control-plane VIP until the VIPGroup's DaemonSet runs on this node, then removes its own manifest.",
			},
		},
		Spec: spec,
	}
}

// Manifest is StaticPod as the YAML kubelet reads.
func Manifest(o Options) ([]byte, error) {
	b, err := yaml.Marshal(StaticPod(o))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSuffix(b, []byte("status: {}\n"))
	header := "# hacp bootstrap static Pod: written by `hacpctl bootstrap`. It holds the control-plane VIP\n" +
		"# until the VIPGroup's DaemonSet runs on this node, then removes this file itself.\n"
	return append([]byte(header), b...), nil
}

// KubeadmInit returns the `kubeadm init` command for the first node: the control-plane endpoint
// is the VIP (so every kubeconfig and certificate names it, not the node), and the control-plane
// certificates are uploaded so that the next nodes join with --control-plane --certificate-key.
// advertise, when valid, pins the node's own API server address.
func KubeadmInit(endpoint string, advertise netip.Addr) (string, error) {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", fmt.Errorf("control-plane endpoint %q: %w", endpoint, err)
	}
	args := []string{"kubeadm", "init", "--control-plane-endpoint=" + net.JoinHostPort(host, port), "--upload-certs"}
	if advertise.IsValid() {
		args = append(args, "--apiserver-advertise-address="+advertise.String())
	}
	if port != "6443" {
		args = append(args, "--apiserver-bind-port="+port)
	}
	return strings.Join(args, " "), nil
}

// StandbyOptions describe the standby static Pod of one VIPGroup.
type StandbyOptions struct {
	// Image is hacp's image (the DaemonSet's).
	Image string
	// Namespace and Name are the VIPGroup's.
	Namespace, Name string
}

// StandbyPod is the node-local standby of one VIPGroup (see internal/agent's standby.go): it runs
// `hacp-agent standby`, idle while the DaemonSet's agent runs on the node, keepalived from the
// last good config when it does not. The DaemonSet's agent writes it into kubelet's manifest
// folder and keeps it up to date; it never removes itself.
func StandbyPod(o StandbyOptions) *corev1.Pod {
	dir := contract.StandbyConfigDir(contract.StandbyDir, o.Namespace, o.Name)
	p := StaticPod(Options{Image: o.Image, Namespace: o.Namespace})
	p.Name = "hacp-standby-" + o.Name
	p.Labels[contract.LabelComponent] = contract.ComponentStandby
	p.Labels[contract.LabelVIPGroup] = o.Name
	p.Labels[contract.LabelTier] = contract.TierControlPlane
	p.Annotations["hacp.dev/purpose"] = "Runs keepalived from this node's last good config of VIPGroup " + o.Namespace + "/" + o.Name +
		" whenever the VIPGroup's DaemonSet agent is not running here (cold boot, hacp removed); idle otherwise."
	configMount, configVolume := contract.HostDir("config", dir, corev1.HostPathDirectoryOrCreate, true)
	c := &p.Spec.Containers[0]
	c.Args = contract.StandbyArgs(o.Namespace, o.Name)
	c.ReadinessProbe = contract.StandbyReadinessProbe()
	c.VolumeMounts = append([]corev1.VolumeMount{configMount}, contract.RuntimeMounts()...)
	p.Spec.Volumes = append([]corev1.Volume{configVolume}, contract.RuntimeVolumes()...)
	return p
}

// StandbyManifest is StandbyPod as the YAML file kubelet reads.
func StandbyManifest(o StandbyOptions) ([]byte, error) {
	b, err := yaml.Marshal(StandbyPod(o))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSuffix(b, []byte("status: {}\n"))
	header := "# hacp standby static Pod, written and kept up to date by the agent of VIPGroup " + o.Namespace + "/" + o.Name + ".\n" +
		"# It keeps this node's VIPs served when that agent cannot run. To remove it on purpose, see hacp's README (Removing hacp).\n"
	return append([]byte(header), b...), nil
}
