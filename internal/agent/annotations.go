package agent

import "time"

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
	// AnnotationReportedAt is when the agent last wrote its report (RFC 3339, nanoseconds). The
	// agent rewrites it every HeartbeatInterval, so the manager can tell a live agent's report from
	// the last words of one that died with its node. The manager judges staleness by when it saw
	// this value change, on its own clock, so clock skew between nodes does not matter.
	AnnotationReportedAt = "hacp.dev/reported-at"
)

// HeartbeatInterval is how often an agent rewrites its report when nothing changed.
const HeartbeatInterval = 2 * time.Second
