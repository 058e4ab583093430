package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func TestPrintJoin(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(d)} }
	hcp := &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "kube-system"},
		Status: hacpv1.HAControlPlaneStatus{JoinMaterial: &hacpv1.JoinMaterialStatus{SecretName: "kubernetes-join", ControlPlaneSecretName: "kubernetes-join-control-plane",
			TokenExpiresAt: at(20 * time.Hour), CertificateKeyExpiresAt: at(time.Hour)}},
	}
	tokensOnly := &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "tokens-only", Namespace: "old"},
		Status: hacpv1.HAControlPlaneStatus{
			JoinMaterial: &hacpv1.JoinMaterialStatus{SecretName: "kubernetes-join", TokenExpiresAt: at(time.Hour)},
			Conditions:   []metav1.Condition{{Type: hacpv1.ConditionJoinMaterialReady, Status: "True", Reason: hacpv1.ReasonTokensOnly, Message: "certificate key unavailable"}},
		},
	}
	// The operator stopped renewing (its conditions say why): the token is still valid, the
	// certificate key expired.
	stale := &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "stale", Namespace: "old"},
		Status: hacpv1.HAControlPlaneStatus{
			JoinMaterial: &hacpv1.JoinMaterialStatus{SecretName: "kubernetes-join", ControlPlaneSecretName: "kubernetes-join-control-plane", TokenExpiresAt: at(time.Hour), CertificateKeyExpiresAt: at(-time.Minute)},
			Conditions:   []metav1.Condition{{Type: hacpv1.ConditionJoinMaterialReady, Status: "False", Reason: hacpv1.ReasonFailed, Message: "publishing the join Secret: forbidden"}},
		},
	}
	expired := &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "expired", Namespace: "old"},
		Status:     hacpv1.HAControlPlaneStatus{JoinMaterial: &hacpv1.JoinMaterialStatus{SecretName: "kubernetes-join", TokenExpiresAt: at(-time.Second)}},
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-join", Namespace: "kube-system"},
		Data: map[string][]byte{
			"workerJoinCommand": []byte("kubeadm join 192.168.1.8:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00"),
		},
	}
	cp := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-join-control-plane", Namespace: "kube-system"},
		Data: map[string][]byte{
			"controlPlaneJoinCommand": []byte("kubeadm join 192.168.1.8:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00 --control-plane --certificate-key 11"),
		},
	}
	pending := &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "other"},
		Status:     hacpv1.HAControlPlaneStatus{Conditions: []metav1.Condition{{Type: hacpv1.ConditionJoinMaterialReady, Status: "False", Reason: hacpv1.ReasonClusterInfoUnavailable, Message: "ConfigMap kube-public/cluster-info not found"}}},
	}
	oldSecret, oldCP := s.DeepCopy(), cp.DeepCopy()
	oldSecret.Namespace, oldCP.Namespace = "old", "old"
	c := fake.NewClientBuilder().WithScheme(hacpSchemeForCLI()).WithObjects(hcp, stale, expired, tokensOnly, s, cp, oldSecret, oldCP, pending).Build()
	for _, tc := range []struct {
		ns, name string
		cp       bool
		code     int
		want     string
	}{
		{"kube-system", "", false, 0, "--discovery-token-ca-cert-hash sha256:00\n"},
		{"kube-system", "kubernetes", true, 0, "--control-plane --certificate-key 11\n"},
		{"other", "pending", false, 1, "ClusterInfoUnavailable: ConfigMap kube-public/cluster-info not found"},
		{"kube-system", "missing", false, 1, "not found"},
		{"old", "stale", false, 0, "--discovery-token-ca-cert-hash sha256:00\n"},
		{"old", "stale", true, 1, "expired at 2026-11-30T11:59:00Z and has not been renewed (JoinMaterialReady Failed: publishing the join Secret: forbidden)"},
		{"old", "expired", false, 1, "expired at 2026-11-30T11:59:59Z"},
		{"old", "tokens-only", false, 0, "--discovery-token-ca-cert-hash sha256:00\n"},
		{"old", "tokens-only", true, 1, "no control-plane join command: certificate upload is disabled or unavailable (JoinMaterialReady TokensOnly: certificate key unavailable)"},
	} {
		var out, errOut bytes.Buffer
		fail := func(code int, format string, a ...any) int { fmt.Fprintf(&errOut, format, a...); return code }
		code := printJoin(context.Background(), c, tc.ns, tc.name, tc.cp, now, &out, fail)
		got := out.String() + errOut.String()
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%s/%s cp=%v: exit %d %q, want %d %q", tc.ns, tc.name, tc.cp, code, got, tc.code, tc.want)
		}
	}
}
