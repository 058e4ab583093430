package contract

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

// Report is what an agent says about its node.
type Report struct {
	// State is the node's VRRP state (the fold of its instances' states).
	State VRRPState
	// ConfigHash is the hash of the config keepalived runs.
	ConfigHash string
	// ConfigError says why the latest config was not applied; empty when it was.
	ConfigError string
	// Interface holds the node's address: the default VRRP interface.
	Interface string
	// ChangedAt is when State last changed; zero when it never did.
	ChangedAt time.Time
}

// Annotations encodes r as the agent writes it on its Pod, with reportedAt as its heartbeat.
// Every key is always present: an empty value clears an earlier one in a merge patch.
func (r Report) Annotations(reportedAt time.Time) map[string]string {
	return map[string]string{
		AnnotationState:          string(r.State),
		AnnotationConfigHash:     r.ConfigHash,
		AnnotationInterface:      r.Interface,
		AnnotationConfigError:    r.ConfigError,
		AnnotationStateChangedAt: formatTime(r.ChangedAt),
		AnnotationReportedAt:     formatTime(reportedAt),
	}
}

// ReportOf decodes the report on an agent Pod's annotations. State is empty when the agent has not
// reported one, and UNKNOWN when it is not a state: a report never puts a value into the
// VIPGroup's status that its schema would reject.
func ReportOf(annotations map[string]string) Report {
	r := Report{
		ConfigHash:  annotations[AnnotationConfigHash],
		Interface:   annotations[AnnotationInterface],
		ConfigError: annotations[AnnotationConfigError],
	}
	if s := annotations[AnnotationState]; s != "" {
		r.State, _ = ParseVRRPState(s)
	}
	r.ChangedAt, _ = time.Parse(time.RFC3339Nano, annotations[AnnotationStateChangedAt])
	return r
}

// HeartbeatOf returns an agent Pod's heartbeat: the raw hacp.dev/reported-at value (empty: the
// agent writes none) and the time it names (zero when it does not parse).
func HeartbeatOf(annotations map[string]string) (value string, at time.Time) {
	value = annotations[AnnotationReportedAt]
	at, _ = time.Parse(time.RFC3339Nano, value)
	return value, at
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
