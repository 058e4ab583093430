package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CertificateUpload says whether the operator re-uploads the control-plane certificates to the
// kubeadm-certs Secret (what `kubeadm init phase upload-certs --upload-certs` does).
// +kubebuilder:validation:Enum=Enabled;Disabled
type CertificateUpload string

const (
	// CertificateUploadEnabled keeps kubeadm-certs and a certificate key valid at all times. It
	// needs the manager to run on a control-plane node with the pki directory mounted read-only.
	CertificateUploadEnabled CertificateUpload = "Enabled"
	// CertificateUploadDisabled only rotates bootstrap tokens: worker join commands stay valid,
	// control-plane joins need the certificates copied by hand.
	CertificateUploadDisabled CertificateUpload = "Disabled"
)

// HAControlPlaneSpec is the desired state of a kubeadm control plane kept highly available.
type HAControlPlaneSpec struct {
	// controlPlaneEndpoint is the address every node and client uses to reach the API servers, as
	// given to `kubeadm init --control-plane-endpoint`: host:port, where host is normally a virtual
	// IP of the referenced VIPGroup (for example 192.168.1.8:6443 or [2001:db8::8]:6443).
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:XValidation:rule="isURL('https://' + self) && url('https://' + self).getPort() != '' && url('https://' + self).getHostname() != '' && url('https://' + self).getEscapedPath() == '' && int(url('https://' + self).getPort()) >= 1 && int(url('https://' + self).getPort()) <= 65535",message="controlPlaneEndpoint must be host:port (for example 192.168.1.8:6443 or [2001:db8::8]:6443), with a port in 1..65535 and no scheme or path"
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`

	// vipGroupRef names the VIPGroup, in the same namespace, that serves the endpoint's address.
	// Its members' health feeds the VIP column of what-if results.
	// +optional
	VIPGroupRef *LocalObjectReference `json:"vipGroupRef,omitempty,omitzero"`

	// controlPlaneSelector selects the control-plane Nodes.
	// +optional
	// +kubebuilder:default={"node-role.kubernetes.io/control-plane":""}
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="each controlPlaneSelector key must be a label key: an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
	ControlPlaneSelector LabelSet `json:"controlPlaneSelector,omitempty"`

	// joinMaterial configures the bootstrap tokens and certificate key kept valid for `kubeadm join`.
	// +optional
	// +kubebuilder:default={}
	JoinMaterial JoinMaterialSpec `json:"joinMaterial,omitempty,omitzero"`

	// etcd says how to reach the etcd cluster for member lists, health and alarms. Without it,
	// membership is inferred from kubeadm's etcd mirror pods.
	// +optional
	Etcd *EtcdAccess `json:"etcd,omitempty"`

	// certificates configures the watch on the control plane's certificate expiry: the API server,
	// etcd (client and peer) and kubelet serving certificates of every control-plane node, read
	// over TLS as they are served, and the cluster CA.
	// +optional
	// +kubebuilder:default={}
	Certificates CertificatesSpec `json:"certificates,omitempty,omitzero"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// JoinMaterialSpec configures join material rotation.
// +kubebuilder:validation:XValidation:rule="!has(self.rotateBefore) || !has(self.tokenTTL) || duration(self.rotateBefore) < duration(self.tokenTTL)",message="rotateBefore must be shorter than tokenTTL, or every token would be replaced as soon as it is made"
type JoinMaterialSpec struct {
	// tokenTTL is the lifetime of each bootstrap token the operator mints.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('720h')",message="tokenTTL must be between 10m and 720h"
	TokenTTL *metav1.Duration `json:"tokenTTL,omitempty"`

	// rotateBefore is how long before expiry a successor is minted, so that two valid tokens
	// overlap and a join in progress never meets an expired one. For the certificate key, whose
	// lifetime is short, the lead is the smaller of rotateBefore and half of certificateKeyTTL.
	// +optional
	// +kubebuilder:default="2h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="rotateBefore must be at least 1m"
	RotateBefore *metav1.Duration `json:"rotateBefore,omitempty"`

	// certificateUpload says whether the kubeadm-certs Secret and certificate key are kept valid.
	// +optional
	// +kubebuilder:default=Disabled
	CertificateUpload CertificateUpload `json:"certificateUpload,omitempty"`

	// certificateKeyTTL is how long uploaded certificates live (kubeadm uses 2h).
	// +optional
	// +kubebuilder:default="2h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('24h')",message="certificateKeyTTL must be between 10m and 24h"
	CertificateKeyTTL *metav1.Duration `json:"certificateKeyTTL,omitempty"`

	// pkiDirectory is where the manager reads the cluster CA keys when certificateUpload is
	// Enabled (mounted read-only from a control-plane node).
	// +optional
	// +kubebuilder:default=/etc/kubernetes/pki
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:MinLength=1
	PKIDirectory string `json:"pkiDirectory,omitempty"`
}

// EtcdAccess is how the operator reaches etcd.
type EtcdAccess struct {
	// endpoints are etcd client URLs (https://host:2379). When empty, they come from the
	// kubeadm.kubernetes.io/etcd.advertise-client-urls annotation of the etcd mirror pods.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || url(self).getScheme() == 'http')",message="each etcd endpoint must be an http(s) URL such as https://192.168.1.12:2379"
	Endpoints []string `json:"endpoints,omitempty"`

	// clientSecretRef names a Secret in the HAControlPlane's namespace with keys ca.crt, tls.crt and
	// tls.key: an etcd client certificate (kubeadm's apiserver-etcd-client works). When absent, the
	// manager reads kubeadm's own files from its PKI directory (joinMaterial.pkiDirectory, default
	// /etc/kubernetes/pki: apiserver-etcd-client.crt and .key, etcd/ca.crt), which needs the manager
	// deployed with the directory mounted (make deploy CONFIG=with-pki) and follows
	// `kubeadm certs renew` by itself.
	// +optional
	ClientSecretRef *LocalObjectReference `json:"clientSecretRef,omitempty,omitzero"`

	// removeDeadMembers lets hacp remove an etcd member whose machine is gone, so that it stops
	// raising the quorum (Disabled by default). A member is removed only when all hold: its
	// control-plane Node has been deleted, it has been unreachable for deadMemberGracePeriod, it is a
	// started voter (never a learner, never a member whose join is in progress), the cluster has
	// quorum and its healthy voters are a quorum without it; one member at a time.
	// +optional
	// +kubebuilder:default=Disabled
	RemoveDeadMembers DeadMemberRemoval `json:"removeDeadMembers,omitempty"`

	// deadMemberGracePeriod is how long a member must have been unreachable, with its Node deleted,
	// before removeDeadMembers removes it (default 10 minutes).
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="deadMemberGracePeriod must not be negative"
	DeadMemberGracePeriod *metav1.Duration `json:"deadMemberGracePeriod,omitempty"`
}

// DeadMemberRemoval turns the removal of dead etcd members on or off.
// +kubebuilder:validation:Enum=Enabled;Disabled
type DeadMemberRemoval string

// DeadMemberRemoval values.
const (
	DeadMemberRemovalEnabled  DeadMemberRemoval = "Enabled"
	DeadMemberRemovalDisabled DeadMemberRemoval = "Disabled"
)

// DeadMemberStatus is hacp's decision on one unreachable etcd member.
type DeadMemberStatus struct {
	// name is the member's name (kubeadm names members after their node).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name,omitempty"`

	// id is the member ID, in hex as etcdctl prints it.
	// +required
	// +kubebuilder:validation:MaxLength=16
	ID string `json:"id"`

	// unreachableSince is when hacp first saw it unhealthy, without a break since.
	// +optional
	UnreachableSince *metav1.Time `json:"unreachableSince,omitempty"`

	// decision is Removed, Kept, or Failed (the removal was attempted and etcd refused it).
	// +required
	// +kubebuilder:validation:Enum=Removed;Kept;Failed
	Decision string `json:"decision,omitempty"`

	// reason says why.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:MinLength=1
	Reason string `json:"reason,omitempty"`
}

// FailureImpact is something a set of node failures breaks.
// +kubebuilder:validation:Enum=EtcdQuorum;VIP;APIServer
type FailureImpact string

const (
	// ImpactEtcdQuorum: fewer than quorum etcd voters remain healthy; writes and reads stop.
	ImpactEtcdQuorum FailureImpact = "EtcdQuorum"
	// ImpactVIP: no healthy VIPGroup member remains, so the endpoint address is not served.
	ImpactVIP FailureImpact = "VIP"
	// ImpactAPIServer: no node with a ready API server remains.
	ImpactAPIServer FailureImpact = "APIServer"
)

// ToleranceLost is status.tolerance when etcd has lost quorum.
const ToleranceLost = "LOST"

// HAControlPlaneStatus is the observed state of an HAControlPlane.
type HAControlPlaneStatus struct {
	// conditions are Available, QuorumHealthy, VIPReady, JoinMaterialReady and CertificatesValid.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastObservedTime is when the manager last confirmed this status (at least every 30 seconds
	// while it runs, in 10-second steps). A status older than a minute is not being refreshed: no
	// manager runs, or it cannot reach the API. Shown as the Observed column.
	// +optional
	LastObservedTime *metav1.Time `json:"lastObservedTime,omitempty"`

	// members are the control-plane nodes and etcd members, joined by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Members []MemberStatus `json:"members,omitempty"`

	// readyMembers / totalMembers: members whose Node is Ready (for print columns).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:MinLength=1
	ReadyMembers string `json:"readyMembers,omitempty"`

	// quorum is the etcd quorum arithmetic.
	// +optional
	Quorum *QuorumStatus `json:"quorum,omitempty"`

	// etcdSummary is "healthy/voters": the healthy etcd voters out of all voters, such as "2/3"
	// (for print columns; the Quorum column shows how many are needed).
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:MinLength=1
	EtcdSummary string `json:"etcdSummary,omitempty"`

	// tolerance is quorum.failureTolerance for people: how many more etcd voters may fail, as a
	// number, or LOST when quorum is lost (for print columns, which would show -1).
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:MinLength=1
	Tolerance string `json:"tolerance,omitempty"`

	// vipMaster is the node holding the virtual IP, from the referenced VIPGroup.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	VIPMaster string `json:"vipMaster,omitempty"`

	// whatIf says what further failures would break: every single-node failure and the minimal
	// failure sets that break something.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	WhatIf []WhatIfResult `json:"whatIf,omitempty"`

	// joinMaterial names the join Secret and when its material expires; never secret values.
	// +optional
	JoinMaterial *JoinMaterialStatus `json:"joinMaterial,omitempty"`

	// certificates lists the control plane's certificates, soonest expiry first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Certificates []CertificateStatus `json:"certificates,omitempty"`

	// earliestCertificateExpiry is the soonest expiry among certificates.
	// +optional
	EarliestCertificateExpiry *metav1.Time `json:"earliestCertificateExpiry,omitempty"`

	// deadMembers lists the unreachable etcd members and what hacp decided about each
	// (spec.etcd.removeDeadMembers).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	DeadMembers []DeadMemberStatus `json:"deadMembers,omitempty"`
}

// MemberStatus is one control-plane member.
type MemberStatus struct {
	// name is the Node name (or the etcd member name when no Node matches).
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// address is the Node's InternalIP.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address,omitempty"`
	// nodeReady is the Node's Ready condition; false when there is no Node.
	// +optional
	NodeReady bool `json:"nodeReady"`
	// apiServerReady is the readiness of the node's kube-apiserver mirror pod.
	// +optional
	APIServerReady bool `json:"apiServerReady"`
	// etcdMember is true when the node has an etcd member (from the member list or kubeadm's
	// etcd mirror pod).
	// +optional
	EtcdMember bool `json:"etcdMember"`
	// etcdMemberID is the etcd member ID in hex, empty when unknown (no etcd access) or absent.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:MinLength=1
	EtcdMemberID string `json:"etcdMemberID,omitempty"`
	// etcdHealthy is whether the member answers and is part of the cluster.
	// +optional
	EtcdHealthy bool `json:"etcdHealthy"`
	// learner is true for a non-voting etcd member.
	// +optional
	Learner bool `json:"learner,omitempty"`
	// vipEligible is whether the node's keepalived could hold the VIP (member of the VIPGroup and
	// not in FAULT).
	// +optional
	VIPEligible bool `json:"vipEligible"`
	// problem names an inconsistency: an etcd member without a Node, or a Node without a member.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:MinLength=1
	Problem string `json:"problem,omitempty"`
}

// QuorumStatus is the etcd quorum arithmetic.
type QuorumStatus struct {
	// voters is the number of etcd members that are not learners.
	// +required
	// +kubebuilder:validation:Minimum=0
	Voters int32 `json:"voters"`
	// healthy is the number of healthy voters.
	// +required
	// +kubebuilder:validation:Minimum=0
	Healthy int32 `json:"healthy"`
	// quorum is voters/2 + 1 (0 when there are no voters).
	// +required
	// +kubebuilder:validation:Minimum=0
	Quorum int32 `json:"quorum"`
	// failureTolerance is healthy - quorum: how many more voters may fail. Negative means quorum
	// is lost.
	// +required
	FailureTolerance int32 `json:"failureTolerance"`
}

// WhatIfResult is the outcome of a hypothetical failure set.
type WhatIfResult struct {
	// failed are the node names assumed to fail.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	Failed []string `json:"failed"`
	// survives is true when nothing breaks.
	// +required
	Survives bool `json:"survives"`
	// breaks lists what stops working.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=3
	Breaks []FailureImpact `json:"breaks,omitempty"`
	// message says it in a sentence.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}

// JoinMaterialStatus names the join material; values stay in Secrets.
type JoinMaterialStatus struct {
	// secretName is the Secret in the HAControlPlane's namespace with the worker join command
	// (<name>-join: token, caCertHash, workerJoinCommand, expiresAt).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName,omitempty"`
	// controlPlaneSecretName is the Secret with the control-plane join command and the certificate
	// key (<name>-join-control-plane: certificateKey, controlPlaneJoinCommand, expiresAt), apart
	// from the worker's because the key decrypts the cluster's CA keys. Empty when no certificate
	// key is kept valid.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	ControlPlaneSecretName string `json:"controlPlaneSecretName,omitempty"`
	// tokenID is the public half of the bootstrap token in use (6 characters).
	// +optional
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:MinLength=1
	TokenID string `json:"tokenID,omitempty"`
	// tokenExpiresAt is when that token expires.
	// +optional
	TokenExpiresAt *metav1.Time `json:"tokenExpiresAt,omitempty"`
	// certificateKeyExpiresAt is when the uploaded certificates are garbage collected.
	// +optional
	CertificateKeyExpiresAt *metav1.Time `json:"certificateKeyExpiresAt,omitempty"`
	// nextRotationAt is when the operator next changes join material.
	// +optional
	NextRotationAt *metav1.Time `json:"nextRotationAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hacp,categories=hacp-all
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: the join Secrets and labels hacp derives from it must fit"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.controlPlaneEndpoint`
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.status.readyMembers`,description="control-plane Nodes Ready / total"
// +kubebuilder:printcolumn:name="Etcd",type=string,JSONPath=`.status.etcdSummary`,description="healthy etcd voters / voters"
// +kubebuilder:printcolumn:name="Quorum",type=integer,JSONPath=`.status.quorum.quorum`,description="etcd voters needed for quorum"
// +kubebuilder:printcolumn:name="Tolerance",type=string,JSONPath=`.status.tolerance`,description="further voter failures survivable, LOST when quorum is lost"
// +kubebuilder:printcolumn:name="VIP-Master",type=string,JSONPath=`.status.vipMaster`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Certs-Expire",type=string,JSONPath=`.status.earliestCertificateExpiry`,description="soonest certificate expiry (a date column would print a future time as <invalid>)"
// +kubebuilder:printcolumn:name="Observed",type=date,JSONPath=`.status.lastObservedTime`,description="when the manager last confirmed this status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// HAControlPlane keeps a kubeadm control plane's join material valid and reports its quorum
// health and what further failures would break.
type HAControlPlane struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec HAControlPlaneSpec `json:"spec,omitzero"`

	// status is the observed state.
	// +optional
	Status HAControlPlaneStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// HAControlPlaneList is a list of HAControlPlanes.
type HAControlPlaneList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HAControlPlane `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HAControlPlane{}, &HAControlPlaneList{})
}
