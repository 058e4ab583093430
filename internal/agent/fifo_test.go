package agent

import (
	"net/netip"
	"testing"
)

func TestParseFIFOLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FIFOEvent
		bad  bool
	}{
		{in: `INSTANCE "hacp_kube_system_vip_v4" MASTER 200`, want: FIFOEvent{Kind: "INSTANCE", Name: "hacp_kube_system_vip_v4", State: "MASTER", Priority: 200}},
		{in: `INSTANCE "VI_1" BACKUP 99` + "\n", want: FIFOEvent{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP", Priority: 99}},
		{in: `INSTANCE "x" FAULT 0`, want: FIFOEvent{Kind: "INSTANCE", Name: "x", State: "FAULT"}},
		{in: `GROUP "g" MASTER`, want: FIFOEvent{Kind: "GROUP", Name: "g", State: "MASTER"}},
		{in: `INSTANCE "x" DANCING 1`, bad: true},
		{in: `INSTANCE x MASTER 1`, bad: true},
		{in: `INSTANCE "x`, bad: true},
		{in: ``, bad: true},
		{in: `VS [1.2.3.4]:tcp:80 UP`, bad: true},
	} {
		got, err := ParseFIFOLine(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestNodeState(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{nil, "UNKNOWN"},
		{map[string]string{"v4": "MASTER"}, "MASTER"},
		{map[string]string{"v4": "MASTER", "v6": "BACKUP"}, "MASTER"},
		{map[string]string{"v4": "MASTER", "v6": "FAULT"}, "FAULT"},
		{map[string]string{"v4": "BACKUP", "v6": "BACKUP"}, "BACKUP"},
		{map[string]string{"v4": "STOP"}, "STOP"},
	} {
		if got := NodeState(tc.in); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParseFIFOLine(f *testing.F) {
	f.Add(`INSTANCE "VI_1" MASTER 100`)
	f.Add(`GROUP "g" BACKUP`)
	f.Fuzz(func(t *testing.T, line string) {
		ev, err := ParseFIFOLine(line)
		if err == nil && (ev.Name == "" && ev.State == "") {
			t.Fatalf("accepted %q without name and state", line)
		}
	})
}

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

func TestInterfaceOf(t *testing.T) {
	if got, err := InterfaceOf("127.0.0.1"); err != nil || got != "lo" {
		t.Fatalf("127.0.0.1: %q, %v; want lo", got, err)
	}
	if _, err := InterfaceOf("198.51.100.250"); err == nil {
		t.Fatal("found an interface for an address this machine does not hold")
	}
	if _, err := InterfaceOf("h1"); err == nil {
		t.Fatal("accepted a name")
	}
}
