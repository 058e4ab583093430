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

// Condition reasons.
const (
	ReasonQuorate          = "Quorate"
	ReasonAtRisk           = "AtRisk"
	ReasonQuorumLost       = "QuorumLost"
	ReasonNotImplemented   = "NotImplemented"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonRendered         = "Rendered"
	ReasonVRIDConflict     = "VRIDConflict"
	ReasonVIPConflict      = "VIPConflict"
	ReasonNoConflict       = "NoConflict"
	ReasonAllNodesReady    = "AllNodesCurrent"
	ReasonNodesPending     = "NodesPending"
	ReasonNoMaster         = "NoMaster"
	ReasonSplitBrain       = "MultipleMasters"
	ReasonNoMembers        = "NoMembers"
	ReasonServing          = "Serving"
	ReasonNotServing       = "NotServing"
	ReasonVIPGroupReady    = "VIPGroupReady"
	ReasonVIPNotReady      = "VIPGroupNotReady"
	ReasonNoVIPGroup       = "NoVIPGroup"
	ReasonEndpointNotVIP   = "EndpointNotVIP"
	ReasonTokensValid      = "Valid"
	ReasonJoinFailed       = "Failed"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonObserveFailed    = "ObserveFailed"
	ReasonEndpointMismatch = "EndpointMismatch"
	// CertificatesValid reasons.
	ReasonCertificatesValid = "CertificatesValid"
	ReasonExpiringSoon      = "ExpiringSoon"
	ReasonExpired           = "Expired"
	ReasonRenewedNotServed  = "RenewedNotServed"
	ReasonNotObserved       = "NotObserved"
)
