package agent

import (
	"testing"

	"hacp.dev/hacp/internal/contract"
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
		in   map[string]contract.VRRPState
		want contract.VRRPState
	}{
		{nil, "UNKNOWN"},
		{map[string]contract.VRRPState{"v4": "MASTER"}, "MASTER"},
		{map[string]contract.VRRPState{"v4": "MASTER", "v6": "BACKUP"}, "MASTER"},
		{map[string]contract.VRRPState{"v4": "MASTER", "v6": "FAULT"}, "FAULT"},
		{map[string]contract.VRRPState{"v4": "BACKUP", "v6": "BACKUP"}, "BACKUP"},
		{map[string]contract.VRRPState{"v4": "STOP"}, "STOP"},
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
