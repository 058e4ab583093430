package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// A namespace and a name of 63 characters each make a 127-character namespace.name: hacp's label
// on tokens, join Secrets and kubeadm-certs must still be a valid label value.
func TestHAControlPlaneLabelAlwaysFits(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 63) }
	hcp := func(ns, name string) *hacpv1.HAControlPlane {
		return &hacpv1.HAControlPlane{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	seen := map[string]string{}
	for _, tc := range []struct {
		hcp  *hacpv1.HAControlPlane
		want string // "" when it must be shortened
	}{
		{hcp("kube-system", "kubernetes"), "kube-system.kubernetes"},
		{hcp(long("n"), "a"), ""},
		{hcp(long("n"), "b"), ""},
		{hcp("kube-system", long("k")), ""},
		{hcp(long("n"), long("k")), ""},
		// A cut that would end on '-' or '.': trimmed, since a label value ends with a letter or digit.
		{hcp(strings.Repeat("a", 51)+"-----x", "y"), ""},
		{hcp(strings.Repeat("a", 52)+".x", long("z")), ""},
	} {
		got := haControlPlaneLabel(tc.hcp)
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("%s/%s: %q is not a label value: %v", tc.hcp.Namespace, tc.hcp.Name, got, errs)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%s/%s: %q, want %q", tc.hcp.Namespace, tc.hcp.Name, got, tc.want)
		}
		if tc.want == "" && !strings.HasPrefix(tc.hcp.Namespace+"."+tc.hcp.Name, got[:40]) {
			t.Errorf("%s/%s: %q does not start with the namespace", tc.hcp.Namespace, tc.hcp.Name, got)
		}
		key := tc.hcp.Namespace + "/" + tc.hcp.Name
		if other, ok := seen[got]; ok && other != key {
			t.Errorf("%s and %s share the label %q", other, key, got)
		}
		seen[got] = key
		if again := haControlPlaneLabel(tc.hcp); again != got {
			t.Errorf("%s: not stable: %q then %q", key, got, again)
		}
	}
}
