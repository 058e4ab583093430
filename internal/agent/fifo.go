package agent

import (
	"fmt"
	"strings"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
)

// FIFOEvent is one line keepalived writes to its vrrp_notify_fifo, for example
// `INSTANCE "hacp_kube_system_vip_v4" MASTER 200`.
type FIFOEvent struct {
	Kind     string // INSTANCE or GROUP
	Name     string
	State    contract.VRRPState // MASTER, BACKUP, FAULT, STOP or fifoDeleted
	Priority int
}

// fifoDeleted is the state keepalived notifies for a deleted instance (a reload that drops it):
// a FIFO word only, which NodeState folds into STOP; agents never report it.
const fifoDeleted contract.VRRPState = "DELETED"

// ParseFIFOLine parses one notify FIFO line.
func ParseFIFOLine(line string) (FIFOEvent, error) {
	line = strings.TrimSpace(line)
	kind, rest, ok := strings.Cut(line, " ")
	if !ok || (kind != "INSTANCE" && kind != "GROUP") {
		return FIFOEvent{}, fmt.Errorf("not a VRRP notify line: %q", line)
	}
	if !strings.HasPrefix(rest, `"`) {
		return FIFOEvent{}, fmt.Errorf("instance name is not quoted: %q", line)
	}
	end := strings.Index(rest[1:], `"`)
	if end < 0 {
		return FIFOEvent{}, fmt.Errorf("unterminated instance name: %q", line)
	}
	ev := FIFOEvent{Kind: kind, Name: rest[1 : 1+end]}
	fields := strings.Fields(rest[end+2:])
	if len(fields) == 0 {
		return FIFOEvent{}, fmt.Errorf("no state: %q", line)
	}
	if ev.State = contract.VRRPState(fields[0]); ev.State != fifoDeleted {
		st, err := contract.ParseVRRPState(fields[0])
		if err != nil || st == hacpv1.VRRPStateUnknown {
			return FIFOEvent{}, fmt.Errorf("unknown state %q", ev.State)
		}
	}
	if len(fields) > 1 {
		if _, err := fmt.Sscanf(fields[1], "%d", &ev.Priority); err != nil {
			return FIFOEvent{}, fmt.Errorf("priority %q: %w", fields[1], err)
		}
	}
	return ev, nil
}

// NodeState folds per-instance states into the node's: FAULT if any instance is in FAULT (the
// node must not be counted on), else MASTER if any holds VIPs, else BACKUP; STOP when all stopped.
func NodeState(instances map[string]contract.VRRPState) contract.VRRPState {
	seen := map[contract.VRRPState]bool{}
	for _, st := range instances {
		seen[st] = true
	}
	switch {
	case len(instances) == 0:
		return hacpv1.VRRPStateUnknown
	case seen[hacpv1.VRRPStateFault]:
		return hacpv1.VRRPStateFault
	case seen[hacpv1.VRRPStateMaster]:
		return hacpv1.VRRPStateMaster
	case seen[hacpv1.VRRPStateBackup]:
		return hacpv1.VRRPStateBackup
	case seen[hacpv1.VRRPStateStop] || seen[fifoDeleted]:
		return hacpv1.VRRPStateStop
	}
	return hacpv1.VRRPStateUnknown
}
