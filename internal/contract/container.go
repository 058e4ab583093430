package contract

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// AppName is the app.kubernetes.io/name label of every Pod that runs hacp-agent.
const AppName = "hacp-agent"

// Labels of hacp's static Pods: LabelComponent says which one a Pod is (ComponentBootstrap or
// ComponentStandby; the DaemonSet's agents have none), and the standby carries the group's name
// under LabelVIPGroup and LabelTier, which puts its mirror Pod in the manager's Pod cache.
const (
	LabelComponent     = "app.kubernetes.io/component"
	ComponentBootstrap = "bootstrap"
	ComponentStandby   = "standby"
	LabelVIPGroup      = "hacp.dev/vipgroup"
	LabelTier          = "tier"
	TierControlPlane   = "control-plane"
)

// IsStandby reports whether p is a standby static Pod's mirror.
func IsStandby(p *corev1.Pod) bool { return p.Labels[LabelComponent] == ComponentStandby }

// StandbyServing reports whether p is a standby's mirror Pod that kubelet reports Ready: the
// standby runs keepalived from the last good config (its readiness probe, StandbyReadinessProbe,
// passes exactly then).
func StandbyServing(p *corev1.Pod) bool {
	if !IsStandby(p) || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Environment variables the DaemonSet's agent gets from the downward API; its args name them.
const (
	EnvPodName      = "POD_NAME"
	EnvPodNamespace = "POD_NAMESPACE"
	EnvNodeName     = "NODE_NAME"
	EnvHostIP       = "HOST_IP"
)

// RunOptions are what `hacp-agent run` is told in a VIPGroup's DaemonSet.
type RunOptions struct {
	// Secret is the VIPGroup's rendered config Secret.
	Secret string
	// HandoverSocket is the group's bootstrap agent's socket (HandoverSocket).
	HandoverSocket string
	// Interface is the VIPGroup's spec.interface; empty: the one holding the node's address.
	Interface string
	// VIPGroup and StandbyImage, when VIPGroup is set, make the agent keep its node's standby.
	VIPGroup, StandbyImage string
}

// RunArgs are the DaemonSet agent's arguments.
func RunArgs(o RunOptions) []string {
	args := []string{
		"run",
		"--namespace=$(" + EnvPodNamespace + ")",
		"--pod=$(" + EnvPodName + ")",
		"--node=$(" + EnvNodeName + ")",
		"--host-ip=$(" + EnvHostIP + ")",
		"--secret=" + o.Secret,
		"--handover-socket=" + o.HandoverSocket,
	}
	if o.Interface != "" {
		args = append(args, "--interface="+o.Interface)
	}
	if o.VIPGroup != "" {
		args = append(args, "--vipgroup="+o.VIPGroup, "--standby-image="+o.StandbyImage,
			"--standby-dir="+StandbyDir, "--manifests-dir="+ManifestDir)
	}
	return args
}

// BootstrapArgs are the bootstrap static Pod's arguments.
func BootstrapArgs(handoverSocket string) []string {
	return []string{
		"bootstrap",
		"--config=" + BootstrapConfigDir + "/" + ConfigFile,
		"--manifest=" + ManifestDir + "/" + BootstrapManifestName,
		"--handover-socket=" + handoverSocket,
	}
}

// StandbyArgs are the arguments of one VIPGroup's standby static Pod.
func StandbyArgs(namespace, name string) []string {
	return []string{
		"standby",
		"--config=" + StandbyConfigDir(StandbyDir, namespace, name) + "/" + ConfigFile,
		"--handover-socket=" + StandbySocket(namespace, name),
		"--active-socket=" + ActiveSocket(namespace, name),
	}
}

// DownwardEnv gives the DaemonSet's agent the values RunArgs names.
func DownwardEnv() []corev1.EnvVar {
	env := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return []corev1.EnvVar{
		env(EnvPodName, "metadata.name"), env(EnvPodNamespace, "metadata.namespace"),
		env(EnvNodeName, "spec.nodeName"), env(EnvHostIP, "status.hostIP"),
	}
}

// ProbePeriodSeconds is how often kubelet runs the readiness probes of hacp's Pods. An exec probe
// is a `runc exec` into the container: about 160 ms of CPU each on the kubeadm lab, paid by the
// node's containerd-shim. At every 2 s (agent) and 5 s (standby) that was 0.11 cores per
// control-plane node, a third of what the idle lab spent; every 10 s it is a fifth of that. The
// price is a rolling update of the DaemonSet that waits up to 10 s longer per node, and a standby
// that shows in the status up to 10 s later (docs/benchmarks.md, "What the idle lab spends").
const ProbePeriodSeconds = 10

// ReadinessProbe passes only while keepalived runs this node's current config (`hacp-check
// ready`): a rolling update waits for it before replacing the next node's agent.
func ReadinessProbe() *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{CheckBinary, "ready", "--dir=" + RunDir}}},
		PeriodSeconds: ProbePeriodSeconds, TimeoutSeconds: 2, FailureThreshold: 1,
	}
}

// StandbyReadinessProbe is the standby static Pod's: the same check, so that its mirror Pod is
// Ready exactly while the standby runs keepalived (the DaemonSet's agent is absent from the node),
// which is how the manager learns it without the standby needing the API.
func StandbyReadinessProbe() *corev1.Probe {
	return ReadinessProbe()
}

// Container is the agent container of every hacp Pod: hacp-agent with args, root for raw VRRP
// sockets and address changes but only the capabilities keepalived needs, and mounts (which
// must include RuntimeMounts).
func Container(image string, args []string, mounts []corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:            "agent",
		Image:           image,
		Command:         []string{AgentBinary},
		Args:            args,
		SecurityContext: securityContext(),
		VolumeMounts:    mounts,
		Resources:       resources(),
	}
}

// PodSpec is what every Pod running the agent shares: the host's network, kubeadm's static Pods'
// priority class, time for keepalived's priority-0 advert on SIGTERM, and the pause container as
// PID 1, reaping what keepalived leaves orphaned (check scripts, a VRRP child whose parent died),
// which the agent would not.
func PodSpec(c corev1.Container, volumes []corev1.Volume) corev1.PodSpec {
	return corev1.PodSpec{
		HostNetwork:                   true,
		PriorityClassName:             "system-node-critical",
		TerminationGracePeriodSeconds: ptr.To[int64](15),
		ShareProcessNamespace:         ptr.To(true),
		Containers:                    []corev1.Container{c},
		Volumes:                       volumes,
	}
}

// Volume names of RuntimeMounts and RuntimeVolumes.
const (
	volumeRun = "run"
	volumeTmp = "tmp"
)

// RuntimeMounts are the agent's writable folders: RunDir and TmpDir.
func RuntimeMounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{{Name: volumeRun, MountPath: RunDir}, {Name: volumeTmp, MountPath: TmpDir}}
}

// RuntimeVolumes back RuntimeMounts with memory, private to the Pod.
func RuntimeVolumes() []corev1.Volume {
	mem := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}
	return []corev1.Volume{{Name: volumeRun, VolumeSource: mem}, {Name: volumeTmp, VolumeSource: *mem.DeepCopy()}}
}

// HostDir mounts the node's folder path at the same path, as volume name.
func HostDir(name, path string, t corev1.HostPathType, readOnly bool) (corev1.VolumeMount, corev1.Volume) {
	return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: readOnly},
		corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &t}}}
}

func securityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsUser:                ptr.To[int64](0),
		Privileged:               ptr.To(false),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW", "NET_BROADCAST", "SETUID", "SETGID", "KILL"},
		},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// resources are the agent container's requests and limits (agent plus keepalived).
func resources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
}
