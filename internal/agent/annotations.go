package agent

// Pod annotations an agent writes on its own Pod, read by the VIPGroup reconciler.
const (
	// AnnotationState is the node's VRRP state: MASTER, BACKUP, FAULT, STOP or UNKNOWN.
	AnnotationState = "hacp.dev/vrrp-state"
	// AnnotationConfigHash is the SHA-256 of the config keepalived runs.
	AnnotationConfigHash = "hacp.dev/config-hash"
	// AnnotationInterface is the interface holding the node's address (the default VRRP interface).
	AnnotationInterface = "hacp.dev/interface"
	// AnnotationConfigError says why the latest config was not applied; empty when it was.
	AnnotationConfigError = "hacp.dev/config-error"
	// AnnotationStateChangedAt is when the state last changed (RFC 3339, nanoseconds).
	AnnotationStateChangedAt = "hacp.dev/state-changed-at"
)
