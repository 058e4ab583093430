package contract

import (
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// The wire format is what agents and managers of different versions share: these literals are
// the previous versions' annotations, byte for byte.
func TestReportWireFormat(t *testing.T) {
	changed := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	reported := time.Date(2026, 11, 30, 12, 0, 2, 0, time.UTC)
	r := Report{State: hacpv1.VRRPStateMaster, ConfigHash: "abc", Interface: "eth0", ChangedAt: changed}
	want := map[string]string{
		"hacp.dev/vrrp-state":       "MASTER",
		"hacp.dev/config-hash":      "abc",
		"hacp.dev/interface":        "eth0",
		"hacp.dev/config-error":     "",
		"hacp.dev/state-changed-at": "2026-11-30T11:00:00.123456789Z",
		"hacp.dev/reported-at":      "2026-11-30T12:00:02Z",
	}
	got := r.Annotations(reported)
	if !maps.Equal(got, want) {
		t.Fatalf("encoded %v, want %v", got, want)
	}
	back := ReportOf(got)
	if back.State != r.State || back.ConfigHash != r.ConfigHash || back.Interface != r.Interface || !back.ChangedAt.Equal(changed) {
		t.Fatalf("decoded %+v, want %+v", back, r)
	}
	if v, at := HeartbeatOf(got); v != "2026-11-30T12:00:02Z" || !at.Equal(reported) {
		t.Fatalf("heartbeat %q %v", v, at)
	}
	if enc := (Report{}).Annotations(reported); enc[AnnotationStateChangedAt] != "" || enc[AnnotationState] != "" {
		t.Fatalf("an empty report encodes as %v", enc)
	}
}

func TestReportOfState(t *testing.T) {
	for raw, want := range map[string]VRRPState{
		"":        "",
		"MASTER":  hacpv1.VRRPStateMaster,
		"BACKUP":  hacpv1.VRRPStateBackup,
		"FAULT":   hacpv1.VRRPStateFault,
		"STOP":    hacpv1.VRRPStateStop,
		"UNKNOWN": hacpv1.VRRPStateUnknown,
		"master":  hacpv1.VRRPStateUnknown,
		"DELETED": hacpv1.VRRPStateUnknown,
	} {
		if got := ReportOf(map[string]string{AnnotationState: raw}).State; got != want {
			t.Errorf("%q decodes as %q, want %q", raw, got, want)
		}
	}
	if _, err := ParseVRRPState("DANCING"); err == nil {
		t.Error("DANCING parsed as a state")
	}
}

func TestNodePaths(t *testing.T) {
	if got := StandbyConfigDir(StandbyDir, "kube-system", "vip"); got != "/etc/hacp/standby/kube-system_vip" {
		t.Errorf("standby config dir %q", got)
	}
	if got := StandbyManifestName("kube-system", "vip"); got != "hacp-standby-kube-system-vip.yaml" {
		t.Errorf("standby manifest %q", got)
	}
	if FIFOPath != "/run/hacp/keepalived.fifo" {
		t.Errorf("FIFO %q", FIFOPath)
	}
	long := strings.Repeat("n", 63)
	for _, f := range []func(string, string) string{HandoverSocket, ActiveSocket, StandbySocket} {
		a, b := f(long, strings.Repeat("a", 63)), f(long, strings.Repeat("a", 62)+"b")
		if len(a) > 100 || a == b {
			t.Errorf("long names: %q and %q", a, b)
		}
	}
	if got := HandoverSocket("kube-system", "vip"); got != "hacp-bootstrap/kube-system/vip" {
		t.Errorf("handover socket %q", got)
	}
}

func TestStandbyServing(t *testing.T) {
	pod := func(labels map[string]string, phase corev1.PodPhase, ready corev1.ConditionStatus) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: phase}}
		p.Labels = labels
		if ready != "" {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		}
		return p
	}
	standby := map[string]string{LabelComponent: ComponentStandby}
	for name, tc := range map[string]struct {
		p    *corev1.Pod
		want bool
	}{
		"Ready standby":             {pod(standby, corev1.PodRunning, corev1.ConditionTrue), true},
		"idle standby (not Ready)":  {pod(standby, corev1.PodRunning, corev1.ConditionFalse), false},
		"no readiness reported yet": {pod(standby, corev1.PodPending, ""), false},
		"a Ready agent Pod":         {pod(map[string]string{"app.kubernetes.io/name": AppName}, corev1.PodRunning, corev1.ConditionTrue), false},
	} {
		if got := StandbyServing(tc.p); got != tc.want {
			t.Errorf("%s: StandbyServing %v, want %v", name, got, tc.want)
		}
	}
}
