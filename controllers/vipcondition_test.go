package controllers

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/builders"
)

func TestVIPCondition(t *testing.T) {
	hcp := func(endpoint string, ref bool) *hacpv1.HAControlPlane {
		h := builders.HAControlPlane("kubernetes", endpoint)
		if ref {
			h.VIPGroupRef("kube-apiserver")
		}
		return h.Obj()
	}
	vg := func(ready bool, vips ...string) *hacpv1.VIPGroup {
		st, reason := metav1.ConditionFalse, hacpv1.ReasonNoMaster
		if ready {
			st, reason = metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent
		}
		return builders.VIPGroup("kube-apiserver").VIPs(vips...).Condition(hacpv1.ConditionReady, st, reason, "m").Obj()
	}
	for name, tc := range map[string]struct {
		hcp    *hacpv1.HAControlPlane
		vg     *hacpv1.VIPGroup
		vgErr  error
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		"no ref":                     {hcp("192.168.1.8:6443", false), nil, nil, metav1.ConditionUnknown, hacpv1.ReasonNoVIPGroup, "not set"},
		"group missing":              {hcp("192.168.1.8:6443", true), nil, errors.New("not found"), metav1.ConditionFalse, hacpv1.ReasonNoVIPGroup, "not found"},
		"ready, endpoint on a VIP":   {hcp("192.168.1.8:6443", true), vg(true, "192.168.1.8"), nil, metav1.ConditionTrue, hacpv1.ReasonVIPGroupReady, "VIPGroup kube-apiserver"},
		"ready, IPv6 endpoint":       {hcp("[2001:db8::8]:6443", true), vg(true, "192.168.1.8", "2001:db8::8"), nil, metav1.ConditionTrue, hacpv1.ReasonVIPGroupReady, ""},
		"ready, DNS endpoint":        {hcp("api.example.com:6443", true), vg(true, "192.168.1.8"), nil, metav1.ConditionTrue, hacpv1.ReasonVIPGroupReady, ""},
		"not ready, endpoint on VIP": {hcp("192.168.1.8:6443", true), vg(false, "192.168.1.8"), nil, metav1.ConditionFalse, hacpv1.ReasonVIPGroupNotReady, "NoMaster"},
		"ready, endpoint not a VIP": {hcp("192.168.1.99:6443", true), vg(true, "192.168.1.8"), nil, metav1.ConditionFalse, hacpv1.ReasonEndpointNotVIP,
			"spec.controlPlaneEndpoint 192.168.1.99:6443 is not on one of VIPGroup kube-apiserver's virtualIPs (192.168.1.8)"},
	} {
		t.Run(name, func(t *testing.T) {
			c := vipCondition(3, tc.hcp, tc.vg, tc.vgErr)
			if c.Status != tc.status || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msg) || c.ObservedGeneration != 3 {
				t.Fatalf("got %s %s %q (gen %d), want %s %s ...%s...", c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.status, tc.reason, tc.msg)
			}
		})
	}
}
