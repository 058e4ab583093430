package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"path"

	"hacp.dev/hacp/internal/check"
)

// Paths inside hacp's image and in the agent container.
const (
	// AgentBinary is hacp-agent in hacp's image.
	AgentBinary = "/usr/local/bin/hacp-agent"
	// CheckBinary is hacp-check in hacp's image: keepalived's health check script and the agent
	// container's readiness probe, a small binary because it starts every second or two.
	CheckBinary = "/usr/local/bin/hacp-check"
	// KeepalivedBinary is keepalived in hacp's image.
	KeepalivedBinary = "/usr/sbin/keepalived"
	// RunDir is the agent's private directory (a memory emptyDir): keepalived.conf, pid files,
	// the notify FIFO and the readiness file.
	RunDir = "/run/hacp"
	// FIFOPath is the notify FIFO the rendered configs name (vrrp_notify_fifo).
	FIFOPath = RunDir + "/keepalived.fifo"
	// TmpDir is the container's only other writable folder (the root filesystem is read-only).
	TmpDir = "/tmp"
	// ConfigFile is the name of keepalived's config in every folder that holds one.
	ConfigFile = "keepalived.conf"
	// ReadyFile, in RunDir, says that keepalived runs the latest config the agent was given (the
	// readiness probe reads it). It is defined by internal/check, which hacp-check links without
	// this package's Kubernetes types.
	ReadyFile = check.ReadyFile
)

// Paths on the node.
const (
	// BootstrapConfigDir holds the bootstrap keepalived.conf (root only: it holds the VRRP password).
	BootstrapConfigDir = "/etc/hacp/bootstrap"
	// ManifestDir is kubelet's static Pod directory as kubeadm sets it up.
	ManifestDir = "/etc/kubernetes/manifests"
	// BootstrapManifestName is the bootstrap static Pod's file in ManifestDir. kubeadm's preflight
	// checks only its own four manifests, so this file may be there before `kubeadm init`.
	BootstrapManifestName = "hacp-bootstrap.yaml"
	// StandbyDir holds, per VIPGroup, the last good config the DaemonSet's agent wrote for the
	// standby (root-only).
	StandbyDir = "/etc/hacp/standby"
)

// StandbyConfigDir is one VIPGroup's folder under standbyDir (StandbyDir on a node).
func StandbyConfigDir(standbyDir, namespace, name string) string {
	return path.Join(standbyDir, namespace+"_"+name)
}

// StandbyManifestName is the file name of one VIPGroup's standby static Pod in ManifestDir.
func StandbyManifestName(namespace, name string) string {
	return "hacp-standby-" + namespace + "-" + name + ".yaml"
}

// DefaultHandoverSocket is the abstract unix socket name the bootstrap agent listens on when
// none is given; hacp's own manifests always name one per VIPGroup (HandoverSocket).
const DefaultHandoverSocket = "hacp-bootstrap"

// HandoverSocket is the abstract socket name of the bootstrap agent for one VIPGroup. Every
// group's agents run on the host's network namespace, so each group needs its own name: an agent
// of another group (an ingress VIP on the same node) must never retire this group's bootstrap.
func HandoverSocket(namespace, name string) string {
	return abstractName(DefaultHandoverSocket, namespace, name)
}

// ActiveSocket is the abstract socket name the DaemonSet's agent of one VIPGroup listens on while
// it runs: the standby's sign that the agent is there.
func ActiveSocket(namespace, name string) string { return abstractName("hacp-active", namespace, name) }

// StandbySocket is the abstract socket name the standby of one VIPGroup answers handovers on.
func StandbySocket(namespace, name string) string {
	return abstractName("hacp-standby", namespace, name)
}

// abstractName is prefix/namespace/name, long names shortened with a hash to stay within a unix
// socket address.
func abstractName(prefix, namespace, name string) string {
	s := prefix + "/" + namespace + "/" + name
	if len(s) <= 100 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:100-17] + "-" + hex.EncodeToString(sum[:8])
}
