package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"hacp.dev/hacp/internal/keepalived"
)

// VIP is a virtual address with the interface keepalived puts it on.
type VIP struct {
	Prefix    netip.Prefix
	Interface string
}

// VIPsOf lists the virtual addresses of a rendered config.
func VIPsOf(text []byte) ([]VIP, error) {
	root, err := keepalived.Parse(text)
	if err != nil {
		return nil, err
	}
	var out []VIP
	for _, in := range root.Children {
		if in.Keyword != "vrrp_instance" {
			continue
		}
		iface := in.Arg("interface")
		va := in.Child("virtual_ipaddress")
		if va == nil {
			continue
		}
		for _, v := range va.Children {
			p, err := netip.ParsePrefix(v.Keyword)
			if err != nil {
				return nil, fmt.Errorf("virtual address %q: %w", v.Keyword, err)
			}
			dev := iface
			for i := 0; i+1 < len(v.Args); i++ {
				if v.Args[i] == "dev" {
					dev = v.Args[i+1]
				}
			}
			out = append(out, VIP{Prefix: p, Interface: dev})
		}
	}
	return out, nil
}

// removeStaleVIPs deletes the given VIPs from their interfaces where present. It runs only while
// keepalived is not running: then any VIP on the interface was left by a crashed predecessor, and
// keeping it would make two hosts answer for it.
func removeStaleVIPs(ctx context.Context, wrap []string, vips []VIP) ([]VIP, error) {
	var removed []VIP
	for _, v := range vips {
		out, err := command(ctx, wrap, "ip", "-o", "addr", "show", "dev", v.Interface).CombinedOutput()
		if err != nil {
			continue // interface absent: nothing stale on it
		}
		if !hasAddr(string(out), v.Prefix.Addr()) {
			continue
		}
		if out, err := command(ctx, wrap, "ip", "addr", "del", v.Prefix.String(), "dev", v.Interface).CombinedOutput(); err != nil {
			return removed, fmt.Errorf("removing stale VIP %s from %s: %v: %s", v.Prefix, v.Interface, err, strings.TrimSpace(string(out)))
		}
		removed = append(removed, v)
	}
	return removed, nil
}

func hasAddr(ipAddrOutput string, a netip.Addr) bool {
	for _, f := range strings.Fields(ipAddrOutput) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr() == a {
			return true
		}
	}
	return false
}

// command runs name with args, prefixed by wrap (for example `ip netns exec h1` in tests).
func command(ctx context.Context, wrap []string, name string, args ...string) *exec.Cmd {
	if len(wrap) == 0 {
		return exec.CommandContext(ctx, name, args...)
	}
	full := append(append(append([]string{}, wrap[1:]...), name), args...)
	return exec.CommandContext(ctx, wrap[0], full...)
}
