// Package agent is the node side of a VIPGroup: it supervises keepalived, applies rendered
// configs only after keepalived's own config test, reads keepalived's notify FIFO, and reports
// the node's VRRP state on its Pod. The report and its encoding are internal/contract's, shared with the reconciler.
//
// The core (Supervisor) talks to the outside through small interfaces, so tests drive it with
// real keepalived in a network namespace and no API server; cmd/agent wires it to the API.
package agent
