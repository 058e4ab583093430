package controllers

import (
	"strings"
	"testing"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/builders"
)

func TestConflictWith(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	group := func(name string, age int, vrid int32, vips ...string) hacpv1.VIPGroup {
		return *builders.VIPGroup(name).VRID(vrid).VIPs(vips...).Created(t0.Add(-time.Duration(age) * time.Hour)).Obj()
	}
	// api and ingress run on the control-plane nodes, edge on the workers.
	members := map[string][]string{"api": {"h1", "h2"}, "ingress": {"h1", "h2"}, "edge": {"w1"}, "old": {"h1"}, "old-edge": {"w1"}}
	membersOf := func(g *hacpv1.VIPGroup) []string { return members[g.Name] }
	for name, tc := range map[string]struct {
		vg      hacpv1.VIPGroup
		others  []hacpv1.VIPGroup
		want    string // the other group's name, "" for none
		reason  string
		message string
	}{
		"alone": {group("api", 1, 68, "192.168.1.8"), nil, "", "", ""},
		"another VRID and VIP on the same nodes": {
			group("ingress", 1, 69, "192.168.1.9"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8")}, "", "", ""},
		"the same VRID on other nodes": {
			group("edge", 1, 68, "192.168.1.9"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8")}, "", "", ""},
		"the same VRID on shared nodes, older other": {
			group("ingress", 1, 68, "192.168.1.9"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8")}, "api", hacpv1.ReasonVRIDConflict, "virtualRouterID 68 is already used by VIPGroup kube-system/api"},
		"the same VRID on shared nodes, newer other": {
			group("api", 2, 68, "192.168.1.8"), []hacpv1.VIPGroup{group("ingress", 1, 68, "192.168.1.9")}, "", "", ""},
		"the same VIP with another VRID on the same nodes": {
			group("ingress", 1, 69, "192.168.1.8"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8")}, "api", hacpv1.ReasonVIPConflict, "virtual IP 192.168.1.8 is already claimed by VIPGroup kube-system/api"},
		"the same VIP on other nodes": {
			group("edge", 1, 70, "10.0.0.5", "192.168.1.8"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8")}, "api", hacpv1.ReasonVIPConflict, "virtual IP 192.168.1.8"},
		"the same VIP, newer other: this one keeps it": {
			group("api", 2, 68, "192.168.1.8"), []hacpv1.VIPGroup{group("edge", 1, 70, "192.168.1.8")}, "", "", ""},
		"several older claimants: it yields, naming one": {
			group("ingress", 1, 69, "192.168.1.8"), []hacpv1.VIPGroup{group("api", 2, 68, "192.168.1.8"), group("old", 3, 71, "192.168.1.8")}, "api", hacpv1.ReasonVIPConflict, "virtual IP 192.168.1.8"},
	} {
		t.Run(name, func(t *testing.T) {
			c := conflictWith(&tc.vg, append(tc.others, tc.vg), membersOf)
			switch {
			case tc.want == "" && c != nil:
				t.Fatalf("conflict with %s: %s", c.other.Name, c.message)
			case tc.want == "":
				return
			case c == nil:
				t.Fatalf("no conflict, want one with %s", tc.want)
			}
			if c.other.Name != tc.want || c.reason != tc.reason || !strings.Contains(c.message, tc.message) {
				t.Fatalf("conflict with %s (%s: %s), want %s (%s: ...%s...)", c.other.Name, c.reason, c.message, tc.want, tc.reason, tc.message)
			}
		})
	}
}
