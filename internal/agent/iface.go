package agent

import (
	"fmt"
	"net"
	"net/netip"
)

// InterfaceOf finds the local interface holding addr (the node's InternalIP): keepalived's
// default VRRP interface.
func InterfaceOf(addr string) (string, error) {
	want, err := netip.ParseAddr(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address: %w (or pass --interface)", addr, err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == want.Unmap() {
				return i.Name, nil
			}
		}
	}
	return "", fmt.Errorf("no interface holds %s; pass --interface", addr)
}
