package agent

import (
	"net/netip"
	"testing"
)

func TestVIPsOf(t *testing.T) {
	text := []byte("vrrp_instance a {\n interface eth0\n virtual_ipaddress {\n  198.51.100.8/32 dev eth1\n  198.51.100.9/32\n }\n}\n")
	vips, err := VIPsOf(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []VIP{{netip.MustParsePrefix("198.51.100.8/32"), "eth1", "a"}, {netip.MustParsePrefix("198.51.100.9/32"), "eth0", "a"}}
	if len(vips) != 2 || vips[0] != want[0] || vips[1] != want[1] {
		t.Fatalf("got %+v, want %+v", vips, want)
	}
}

func TestAddrEntries(t *testing.T) {
	out := "2: eth0    inet 198.51.100.11/24 brd 198.51.100.255 scope global eth0\n" +
		"2: eth0    inet 198.51.100.100/31 scope global noprefixroute eth0\n" +
		"2: eth0    inet 198.51.100.100/32 scope global eth0\n" +
		"2: eth0    inet6 2001:db8::8/127 scope global noprefixroute\n"
	got := addrEntries(out, netip.MustParseAddr("198.51.100.100"))
	if len(got) != 2 || got[0].Bits() != 31 || got[1].Bits() != 32 {
		t.Fatalf("got %v, want the /31 and the /32 entry", got)
	}
	if got := addrEntries(out, netip.MustParseAddr("2001:db8::8")); len(got) != 1 || got[0].Bits() != 127 {
		t.Fatalf("IPv6: got %v", got)
	}
	if got := addrEntries(out, netip.MustParseAddr("198.51.100.1")); len(got) != 0 {
		t.Fatalf("found an address that is not there: %v", got)
	}
}
