package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAdoptableUpload(t *testing.T) {
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(created.Add(d)); return &t }
	secret := func(label string, createdAt time.Duration, writes ...time.Duration) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: *at(createdAt)}}
		if label != "" {
			s.Labels = map[string]string{LabelHAControlPlane: label}
		}
		for _, w := range writes {
			s.ManagedFields = append(s.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubeadm", Time: at(w)})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		kc   *corev1.Secret
		want bool
	}{
		{"kubeadm init's upload, before the HAControlPlane", secret("", -10*time.Minute, -10*time.Minute), true},
		{"no managed fields, created before", secret("", -time.Minute), true},
		{"uploaded by hand after the HAControlPlane", secret("", -10*time.Minute, -10*time.Minute, 5*time.Minute), false},
		{"created after", secret("", time.Minute, time.Minute), false},
		{"written in the same second", secret("", 0, 0), false},
		{"another HAControlPlane's, even if older", secret("kube-system.other", -time.Hour, -time.Hour), false},
	} {
		if got := adoptableUpload(tc.kc, created); got != tc.want {
			t.Errorf("%s: adoptable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
