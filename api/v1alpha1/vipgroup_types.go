package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HealthCheckMode says what a failing API server health check does to a node's VRRP instance.
// +kubebuilder:validation:Enum=Weighted;QuorumAware
type HealthCheckMode string

const (
	// HealthCheckWeighted lowers a failing node's priority below every passing node's, so it loses
	// the election while any node passes, but the VIP stays up somewhere while any keepalived runs.
	// The seed node uses it during bootstrap, before an API server exists.
	HealthCheckWeighted HealthCheckMode = "Weighted"
	// HealthCheckQuorumAware puts a failing node into FAULT: it never holds the VIP. An API server
	// that lost etcd quorum is not ready, so the minority side of a partition lets the VIP go.
	HealthCheckQuorumAware HealthCheckMode = "QuorumAware"
)

// Preemption says whether a higher-priority node takes the VIP back from a healthy lower-priority
// holder when it (re)appears.
// +kubebuilder:validation:Enum=Enabled;Disabled
type Preemption string

const (
	// PreemptionEnabled moves the VIP back to the highest-priority healthy node (keepalived's
	// default), which breaks the connections through the VIP a second time when a node returns.
	PreemptionEnabled Preemption = "Enabled"
	// PreemptionDisabled leaves the VIP where it is while its holder stays healthy (`nopreempt`):
	// one disruption per failure, none when a node returns. hacp's default.
	PreemptionDisabled Preemption = "Disabled"
)

// VIPGroupSpec is the desired state of a group of keepalived instances serving virtual IPs.
// +kubebuilder:validation:XValidation:rule="self.vrrpVersion == 3 || self.advertisementIntervalMilliseconds % 1000 == 0",message="advertisementIntervalMilliseconds must be a whole number of seconds (a multiple of 1000) with vrrpVersion 2; use vrrpVersion 3 for sub-second adverts"
// +kubebuilder:validation:XValidation:rule="self.vrrpVersion == 3 || self.advertisementIntervalMilliseconds <= 255000",message="advertisementIntervalMilliseconds must be at most 255000 (255 s) with vrrpVersion 2"
// +kubebuilder:validation:XValidation:rule="self.vrrpVersion == 2 || self.advertisementIntervalMilliseconds % 10 == 0",message="advertisementIntervalMilliseconds must be a multiple of 10 with vrrpVersion 3 (VRRPv3 counts in centiseconds)"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || self.vrrpVersion == 2",message="passwordSecretRef cannot be used with vrrpVersion 3: VRRPv3 has no authentication and keepalived would ignore it"
// +kubebuilder:validation:XValidation:rule="self.vrrpVersion == 3 || self.virtualIPs.all(v, !isIP(v) || ip(v).family() == 4)",message="IPv6 virtual IPs need vrrpVersion 3: VRRPv2 carries IPv4 only"
// +kubebuilder:validation:XValidation:rule="!has(self.staticMembers) || self.staticMembers.all(m, !(m.address in self.virtualIPs))",message="a static member's address cannot also be a virtual IP"
type VIPGroupSpec struct {
	// virtualIPs are the addresses keepalived moves between members, in canonical form
	// (for example 192.168.1.8 or 2001:db8::8). IPv4 and IPv6 may be mixed: each family gets its own
	// VRRP instance, carried by members with an address of that family.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:items:XValidation:rule="isIP(self) && ip.isCanonical(self)",message="each virtual IP must be a valid IPv4 or IPv6 address in canonical form, without a prefix length"
	// +kubebuilder:validation:items:XValidation:rule="!isIP(self) || ip(self).isGlobalUnicast()",message="a virtual IP must be a unicast address (not loopback, unspecified, multicast or link-local)"
	VirtualIPs []string `json:"virtualIPs,omitempty"`

	// virtualRouterID is the VRRP virtual router ID (VRID), 1..255. It must be unique among VRRP
	// groups on the same network segment; two VIPGroups on overlapping nodes may not share one.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=255
	VirtualRouterID int32 `json:"virtualRouterID,omitempty"`

	// interface is the network interface that carries VRRP and the virtual IPs. When empty, each
	// node uses the interface that holds its InternalIP.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.@-]*$`
	// +kubebuilder:validation:MinLength=1
	Interface string `json:"interface,omitempty"`

	// advertisementIntervalMilliseconds is VRRP's advert_int in milliseconds. A backup takes over
	// about 3 intervals after the master's last advertisement. vrrpVersion 2 allows whole seconds
	// (1000..255000) only; vrrpVersion 3 allows 10..40950 in steps of 10.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=255000
	AdvertisementIntervalMilliseconds int32 `json:"advertisementIntervalMilliseconds,omitempty"`

	// vrrpVersion is 2 (RFC 3768, optional PASS authentication, whole-second adverts) or 3
	// (RFC 5798, no authentication, sub-second adverts, IPv6).
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Enum=2;3
	VRRPVersion int32 `json:"vrrpVersion,omitempty"`

	// nodeSelector selects the Nodes that run keepalived for this group. Each selected Node's
	// InternalIP becomes a member.
	// +optional
	// +kubebuilder:default={"node-role.kubernetes.io/control-plane":""}
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="each nodeSelector key must be a label key: an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
	NodeSelector LabelSet `json:"nodeSelector,omitempty"`

	// preemption says whether a returning higher-priority node takes the VIP back. Disabled (the
	// default) costs one disruption per failure: connections through the VIP break when its holder
	// fails, not again when that node returns. Enabled moves the VIP back to the highest-priority
	// healthy node as soon as it is healthy, breaking the connections through the VIP a second
	// time; choose it only when one node must hold the VIP whenever it can.
	// +optional
	// +kubebuilder:default=Disabled
	Preemption Preemption `json:"preemption,omitempty"`

	// passwordSecretRef names a Secret in the VIPGroup's namespace holding the VRRPv2 PASS password
	// (1..8 characters: keepalived silently truncates longer ones). When absent with vrrpVersion 2,
	// the operator generates one into the Secret <name>-vrrp-auth, once.
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty,omitzero"`

	// healthCheck is how each node decides it may hold the VIP.
	// +optional
	// +kubebuilder:default={}
	HealthCheck HealthCheck `json:"healthCheck,omitempty,omitzero"`

	// image is the container image with the hacp agent and keepalived. Defaults to the image the
	// manager was started with.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image,omitempty"`

	// staticMembers are members that are not (yet) Kubernetes Nodes, such as the seed node before
	// it registers. They appear as peers in every node's config; the operator runs nothing on them.
	// A group has at most 10 members in all (the priority plan's bound).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=10
	StaticMembers []StaticMember `json:"staticMembers,omitempty"`
}

// LabelSet is a set of labels a Node must all carry (key: value), as in a Pod's nodeSelector.
type LabelSet map[string]LabelValue

// AsMap returns the selector as the plain map Kubernetes' label and Pod APIs take.
func (s LabelSet) AsMap() map[string]string {
	if s == nil {
		return nil
	}
	out := make(map[string]string, len(s))
	for k, v := range s {
		out[k] = string(v)
	}
	return out
}

// LabelValue is a label's value.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="a label value must be empty, or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
type LabelValue string

// SecretKeyReference selects one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// key is the data key inside the Secret.
	// +optional
	// +kubebuilder:default=password
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// StaticMember is a VRRP peer given by address.
type StaticMember struct {
	// name identifies the member; a Node of the same name takes precedence over it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`

	// address is the member's unicast address, in canonical form.
	// +required
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip.isCanonical(self)",message="address must be a valid IPv4 or IPv6 address in canonical form"
	Address string `json:"address"`
}

// HealthCheck configures the check of the local API server that keepalived tracks.
// +kubebuilder:validation:XValidation:rule="!has(self.timeoutMilliseconds) || !has(self.intervalSeconds) || self.timeoutMilliseconds < self.intervalSeconds * 1000",message="timeoutMilliseconds must be shorter than intervalSeconds, or checks overlap"
type HealthCheck struct {
	// mode is Weighted (a failing node loses the election but the VIP always exists) or QuorumAware
	// (a failing node goes to FAULT and never holds the VIP).
	// +optional
	// +kubebuilder:default=QuorumAware
	Mode HealthCheckMode `json:"mode,omitempty"`

	// apiServerPort is the port the local API server listens on.
	// +optional
	// +kubebuilder:default=6443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	APIServerPort int32 `json:"apiServerPort,omitempty"`

	// path is the HTTPS path probed on the local API server; only a 200 answer passes.
	// +optional
	// +kubebuilder:default=/readyz
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9/_.?=&-]*$`
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path,omitempty"`

	// intervalSeconds is how often the check runs.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60
	IntervalSeconds int32 `json:"intervalSeconds,omitempty"`

	// timeoutMilliseconds bounds one check; it must be shorter than the interval.
	// +optional
	// +kubebuilder:default=800
	// +kubebuilder:validation:Minimum=50
	// +kubebuilder:validation:Maximum=59000
	TimeoutMilliseconds int32 `json:"timeoutMilliseconds,omitempty"`

	// fall is the number of consecutive failures before a node counts as unhealthy. The default, 3,
	// rides out a loaded control plane: while a peer boots, the survivors' etcd reads take
	// 100-250 ms and /readyz now and then misses the timeout twice in a row, which with fall 2 gave
	// the VIP away from a healthy node and cut every client a second time.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Fall int32 `json:"fall,omitempty"`

	// rise is the number of consecutive successes before a node counts as healthy again.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Rise int32 `json:"rise,omitempty"`
}

// VRRPState is a node's VRRP state as keepalived reports it.
// +kubebuilder:validation:Enum=MASTER;BACKUP;FAULT;STOP;UNKNOWN
type VRRPState string

// VRRP states.
const (
	VRRPStateMaster  VRRPState = "MASTER"
	VRRPStateBackup  VRRPState = "BACKUP"
	VRRPStateFault   VRRPState = "FAULT"
	VRRPStateStop    VRRPState = "STOP"
	VRRPStateUnknown VRRPState = "UNKNOWN"
)

// VIPGroupStatus is the observed state of a VIPGroup.
type VIPGroupStatus struct {
	// conditions are Ready, ConfigValid and Conflict.
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

	// virtualRouterID is the VRID in effect.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=255
	VirtualRouterID int32 `json:"virtualRouterID,omitempty"`

	// virtualIPs lists the virtual IPs in effect, joined by commas (for print columns).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:MinLength=1
	VirtualIPs string `json:"virtualIPs,omitempty"`

	// master is the node currently in MASTER state, empty when none is.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	Master string `json:"master,omitempty"`

	// configHash is the hash of the rendered configuration set the nodes should run.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:MinLength=1
	ConfigHash string `json:"configHash,omitempty"`

	// nodeCount is the number of members (for print columns).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	NodeCount int32 `json:"nodeCount,omitempty"`

	// nodes are the members with their VRRP view.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Nodes []VIPGroupNodeStatus `json:"nodes,omitempty"`
}

// VIPGroupNodeStatus is one member's VRRP view.
type VIPGroupNodeStatus struct {
	// name is the Node's (or static member's) name.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// addresses are the member's unicast source addresses, at most one per address family (a
	// dual-stack node has an IPv4 and an IPv6 one).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:items:MaxLength=45
	Addresses []string `json:"addresses,omitempty"`

	// priority is the member's base VRRP priority from the priority plan.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=255
	Priority int32 `json:"priority,omitempty"`

	// state is the VRRP state the member's agent last reported.
	// +optional
	State VRRPState `json:"state,omitempty"`

	// configHash is the hash of the configuration the member's agent has applied.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:MinLength=1
	ConfigHash string `json:"configHash,omitempty"`

	// static is true for a member from spec.staticMembers (no agent reports for it).
	// +optional
	Static bool `json:"static,omitempty"`

	// unheard is true when the member's last report is not counted: its Node is not Ready, or its
	// agent has not refreshed its report for 8 seconds (it does every 2): the node is down or cut
	// off, or the agent stopped. Its state is then UNKNOWN and message says why.
	// +optional
	Unheard bool `json:"unheard,omitempty"`

	// standby is true while the node's standby static Pod runs keepalived from the last good
	// config because the DaemonSet's agent does not run there (crash loop, image not pulled,
	// cold boot). kubelet reports it: the standby's mirror Pod is Ready exactly then. The
	// VIPGroup's changes do not reach such a node until its agent runs again.
	// +optional
	Standby bool `json:"standby,omitempty"`

	// message explains a failure to apply the configuration, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:MinLength=1
	Message string `json:"message,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vipg,categories=hacp-all
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: it is the value of the hacp.dev/vipgroup label on everything the VIPGroup makes"
// +kubebuilder:printcolumn:name="VIPs",type=string,JSONPath=`.status.virtualIPs`
// +kubebuilder:printcolumn:name="VRID",type=integer,JSONPath=`.spec.virtualRouterID`
// +kubebuilder:printcolumn:name="Master",type=string,JSONPath=`.status.master`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodeCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Observed",type=date,JSONPath=`.status.lastObservedTime`,description="when the manager last confirmed this status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// VIPGroup runs keepalived on a set of nodes so that virtual IPs stay served while any healthy
// member is up.
type VIPGroup struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec VIPGroupSpec `json:"spec,omitzero"`

	// status is the observed state.
	// +optional
	Status VIPGroupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// VIPGroupList is a list of VIPGroups.
type VIPGroupList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VIPGroup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&VIPGroup{}, &VIPGroupList{})
}
