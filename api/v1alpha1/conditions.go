package v1alpha1

// Condition types.
const (
	// ConditionReady (VIPGroup): every member runs the current config and exactly one is MASTER.
	ConditionReady = "Ready"
	// ConditionConfigValid (VIPGroup): the spec renders into configs keepalived accepts.
	ConditionConfigValid = "ConfigValid"
	// ConditionConflict (VIPGroup): an older VIPGroup claims one of its virtual IPs, or the same
	// VRID on overlapping nodes.
	ConditionConflict = "Conflict"

	// ConditionAvailable (HAControlPlane): the control plane serves through its endpoint.
	ConditionAvailable = "Available"
	// ConditionQuorumHealthy (HAControlPlane): etcd has quorum with room for a failure.
	ConditionQuorumHealthy = "QuorumHealthy"
	// ConditionVIPReady (HAControlPlane): the referenced VIPGroup is Ready and holds the endpoint's
	// address.
	ConditionVIPReady = "VIPReady"
	// ConditionJoinMaterialReady (HAControlPlane): a complete, unexpired join command exists.
	ConditionJoinMaterialReady = "JoinMaterialReady"
	// ConditionCertificatesValid (HAControlPlane): no control-plane certificate expires within
	// spec.certificates.warnBefore, and none renewed on disk is still served old.
	ConditionCertificatesValid = "CertificatesValid"
)

// Condition reasons. Each constant is named after its value.
const (
	// ReasonObserveFailed: the cluster's state could not be read (QuorumHealthy, VIPReady,
	// Available).
	ReasonObserveFailed = "ObserveFailed"

	// QuorumHealthy reasons.
	ReasonQuorate       = "Quorate"
	ReasonAtRisk        = "AtRisk"
	ReasonQuorumLost    = "QuorumLost"
	ReasonNoEtcdMembers = "NoEtcdMembers"

	// Available reasons.
	ReasonServing    = "Serving"
	ReasonNotServing = "NotServing"

	// VIPReady reasons.
	ReasonVIPGroupReady    = "VIPGroupReady"
	ReasonVIPGroupNotReady = "VIPGroupNotReady"
	ReasonNoVIPGroup       = "NoVIPGroup"
	ReasonEndpointNotVIP   = "EndpointNotVIP"

	// JoinMaterialReady reasons.
	ReasonValid                  = "Valid"
	ReasonFailed                 = "Failed"
	ReasonEndpointMismatch       = "EndpointMismatch"
	ReasonClusterInfoUnavailable = "ClusterInfoUnavailable"
	ReasonUploadFailed           = "UploadFailed"
	// ReasonTokensOnly: the worker join command is valid; the control-plane one lacks a
	// certificate key (certificate upload is disabled in effect).
	ReasonTokensOnly = "TokensOnly"
	// ReasonCertificatesForeign: someone else uploaded kube-system/kubeadm-certs; hacp leaves it.
	ReasonCertificatesForeign = "CertificatesForeign"

	// CertificatesValid reasons.
	ReasonCertificatesValid = "CertificatesValid"
	ReasonExpiringSoon      = "ExpiringSoon"
	ReasonExpired           = "Expired"
	ReasonRenewedNotServed  = "RenewedNotServed"
	ReasonNotObserved       = "NotObserved"

	// VIPGroup reasons: ConfigValid, Conflict and Ready.
	ReasonRendered        = "Rendered"
	ReasonInvalidSpec     = "InvalidSpec"
	ReasonNoConflict      = "NoConflict"
	ReasonVIPConflict     = "VIPConflict"
	ReasonVRIDConflict    = "VRIDConflict"
	ReasonAllNodesCurrent = "AllNodesCurrent"
	ReasonNodesPending    = "NodesPending"
	ReasonNoMaster        = "NoMaster"
	ReasonMultipleMasters = "MultipleMasters"
	ReasonNoMembers       = "NoMembers"
	ReasonApplyFailed     = "ApplyFailed"
	ReasonStandbyServing  = "StandbyServing"

	// Deprecated: ReasonSplitBrain is ReasonMultipleMasters under its old name, kept only for the
	// one spec in controllers/vipgroup_controller_test.go that is being edited elsewhere; switch it
	// to ReasonMultipleMasters and delete this.
	ReasonSplitBrain = ReasonMultipleMasters
)
