package keepalived

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// StandbyVariant turns a node's rendered config into the one its standby keepalived runs (see
// hacp's README, "the node-local standby"): the same VRRP member, with each virtual address held
// as /31 (IPv6 /127) without a prefix route instead of /32 (/128). As with the bootstrap config,
// the two forms are distinct interface entries, so neither keepalived deletes the other's when it
// starts or stops, and the handover between them never leaves the VIP absent.
func StandbyVariant(text []byte) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString("# hacp standby: this node's last good config, with the VIPs as /31 (/127) so that the standby and\n")
	out.WriteString("# the DaemonSet's keepalived hand them over without a gap. Written by hacp-agent; do not edit.\n")
	inVIPs, changed := false, 0
	for _, line := range strings.SplitAfter(string(text), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "virtual_ipaddress {":
			inVIPs = true
		case inVIPs && trimmed == "}":
			inVIPs = false
		case inVIPs && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			fields := strings.Fields(trimmed)
			p, err := netip.ParsePrefix(fields[0])
			if err != nil {
				return nil, fmt.Errorf("virtual address %q: %w", fields[0], err)
			}
			if p.Bits() != p.Addr().BitLen() {
				return nil, fmt.Errorf("virtual address %s: want a host address (/%d)", p, p.Addr().BitLen())
			}
			fields[0] = fmt.Sprintf("%s/%d", p.Addr(), p.Bits()-1)
			if !strings.Contains(trimmed, "noprefixroute") {
				fields = append(fields, "noprefixroute")
			}
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			line = indent + strings.Join(fields, " ") + "\n"
			changed++
		}
		out.WriteString(line)
	}
	if changed == 0 {
		return nil, fmt.Errorf("no virtual addresses found")
	}
	return out.Bytes(), nil
}
