package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"hacp.dev/hacp/internal/keepalived"
)

// VIP is a virtual address with the interface keepalived puts it on.
type VIP struct {
	Prefix    netip.Prefix
	Interface string
	// Instance is the vrrp_instance that holds it.
	Instance string
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
		var name string
		if len(in.Args) > 0 {
			name = in.Args[0]
		}
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
			out = append(out, VIP{Prefix: p, Interface: dev, Instance: name})
		}
	}
	return out, nil
}

// removeVIPEntries deletes every entry of the given VIPs' addresses from their interfaces,
// whatever its prefix length, except those keep says to leave. It runs only while no keepalived
// of ours holds them: then any such entry was left by a crashed predecessor or by the bootstrap
// keepalived, and keeping it would make two hosts answer for the address.
func removeVIPEntries(ctx context.Context, wrap []string, vips []VIP, keep func(netip.Prefix) bool) ([]VIP, error) {
	var removed []VIP
	for _, v := range vips {
		entries, err := vipEntries(ctx, wrap, v)
		if err != nil {
			continue // interface absent: nothing stale on it
		}
		for _, p := range entries {
			if keep != nil && keep(p) {
				continue
			}
			if out, err := runShort(ctx, wrap, "ip", "addr", "del", p.String(), "dev", v.Interface); err != nil {
				return removed, fmt.Errorf("removing stale VIP %s from %s: %v: %s", p, v.Interface, err, strings.TrimSpace(string(out)))
			}
			removed = append(removed, VIP{Prefix: p, Interface: v.Interface})
		}
	}
	return removed, nil
}

// vipEntries lists the entries on v's interface that hold v's address, whatever their prefix.
func vipEntries(ctx context.Context, wrap []string, v VIP) ([]netip.Prefix, error) {
	out, err := runShort(ctx, wrap, "ip", "-o", "addr", "show", "dev", v.Interface)
	if err != nil {
		return nil, err
	}
	return addrEntries(string(out), v.Prefix.Addr()), nil
}

// deleteVIPEntries deletes exactly these entries, one `ip addr del` each; one already gone is
// not an error.
func deleteVIPEntries(ctx context.Context, wrap []string, entries []VIP) ([]VIP, error) {
	var removed []VIP
	for _, e := range entries {
		out, err := runShort(ctx, wrap, "ip", "addr", "del", e.Prefix.String(), "dev", e.Interface)
		if err != nil {
			if strings.Contains(string(out), "Cannot assign requested address") {
				continue
			}
			return removed, fmt.Errorf("removing VIP entry %s from %s: %v: %s", e.Prefix, e.Interface, err, strings.TrimSpace(string(out)))
		}
		removed = append(removed, e)
	}
	return removed, nil
}

// addrEntries returns the entries of `ip -o addr show` output that hold a.
func addrEntries(ipAddrOutput string, a netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Fields(ipAddrOutput) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr() == a {
			out = append(out, p)
		}
	}
	return out
}

// command runs name with args, prefixed by wrap (for example `ip netns exec h1` in tests).
// commandTimeout bounds one short command (ip, keepalived --config-test): a hung one must not
// stall the supervisor, whose loop also handles keepalived's exits and state changes.
var commandTimeout = 10 * time.Second

// runShort runs a short command with commandTimeout and returns its combined output.
func runShort(ctx context.Context, wrap []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := command(ctx, wrap, name, args...).CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		return out, fmt.Errorf("%s did not finish within %s: %w", name, commandTimeout, ctx.Err())
	}
	return out, err
}

func command(ctx context.Context, wrap []string, name string, args ...string) *exec.Cmd {
	if len(wrap) == 0 {
		return exec.CommandContext(ctx, name, args...)
	}
	full := append(append(append([]string{}, wrap[1:]...), name), args...)
	return exec.CommandContext(ctx, wrap[0], full...)
}
