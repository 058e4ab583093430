package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"hacp.dev/hacp/internal/contract"
)

// TestKubeadmMemberPod: an HAControlPlane is reconciled for kubeadm's kube-apiserver and etcd
// mirror Pods only, not for hacp's agents and standbys, whose heartbeats would have it probe
// etcd every time one of them rewrites its report.
func TestKubeadmMemberPod(t *testing.T) {
	pod := func(ns string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: labels}}
	}
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		want bool
	}{
		"kube-apiserver":         {pod("kube-system", map[string]string{"component": "kube-apiserver", "tier": "control-plane"}), true},
		"etcd":                   {pod("kube-system", map[string]string{"component": "etcd", "tier": "control-plane"}), true},
		"kube-scheduler":         {pod("kube-system", map[string]string{"component": "kube-scheduler", "tier": "control-plane"}), false},
		"etcd in a user's space": {pod("default", map[string]string{"component": "etcd"}), false},
		"an agent": {pod("kube-system", map[string]string{contract.LabelVIPGroup: "kube-apiserver", contract.LabelTier: contract.TierControlPlane,
			"app.kubernetes.io/name": contract.AppName}), false},
		"a standby": {pod("kube-system", map[string]string{contract.LabelComponent: contract.ComponentStandby,
			contract.LabelVIPGroup: "kube-apiserver", contract.LabelTier: contract.TierControlPlane}), false},
	} {
		if got := kubeadmMemberPod(tc.pod); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
