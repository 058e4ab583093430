package agent

import (
	"fmt"
	"sort"
	"strings"
)

// FIFOEvent is one line keepalived writes to its vrrp_notify_fifo, for example
// `INSTANCE "hacp_kube_system_vip_v4" MASTER 200`.
type FIFOEvent struct {
	Kind     string // INSTANCE or GROUP
	Name     string
	State    string // MASTER, BACKUP, FAULT, STOP, DELETED
	Priority int
}

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
	ev.State = fields[0]
	switch ev.State {
	case "MASTER", "BACKUP", "FAULT", "STOP", "DELETED":
	default:
		return FIFOEvent{}, fmt.Errorf("unknown state %q", ev.State)
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
func NodeState(instances map[string]string) string {
	if len(instances) == 0 {
		return "UNKNOWN"
	}
	names := make([]string, 0, len(instances))
	for n := range instances {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		seen[instances[n]] = true
	}
	switch {
	case seen["FAULT"]:
		return "FAULT"
	case seen["MASTER"]:
		return "MASTER"
	case seen["BACKUP"]:
		return "BACKUP"
	case seen["STOP"] || seen["DELETED"]:
		return "STOP"
	}
	return "UNKNOWN"
}
