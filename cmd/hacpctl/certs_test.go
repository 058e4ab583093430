package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func TestCertsFromSavedStatus(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	soon, later := metav1.NewTime(now.Add(10*24*time.Hour+time.Hour)), metav1.NewTime(now.Add(300*24*time.Hour+time.Hour))
	hcp := hacpv1.HAControlPlane{
		TypeMeta:   metav1.TypeMeta{APIVersion: hacpv1.GroupVersion.String(), Kind: "HAControlPlane"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "kube-system"},
		Spec:       hacpv1.HAControlPlaneSpec{ControlPlaneEndpoint: "198.51.100.100:6443"},
		Status: hacpv1.HAControlPlaneStatus{
			Conditions: []metav1.Condition{{Type: hacpv1.ConditionCertificatesValid, Status: metav1.ConditionFalse, Reason: hacpv1.ReasonExpiringSoon, Message: "etcd-server on h1 expires soon"}},
			Certificates: []hacpv1.CertificateStatus{
				{Node: "h1", Component: "etcd-server", NotAfter: &soon, Severity: "ExpiringSoon"},
				{Component: "cluster-ca", NotAfter: &later, Severity: "OK"},
				{Node: "h2", Component: "kubelet", Severity: "Unreadable"},
			},
		},
	}
	b, err := yaml.Marshal(&hcp)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "hacp.yaml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"certs", "-f", f}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		`CertificatesValid=False \(ExpiringSoon\): etcd-server on h1 expires soon`,
		`(?m)^NODE\s+COMPONENT\s+EXPIRES\s+IN\s+STATE$`,
		`(?m)^h1\s+etcd-server\s+` + regexp.QuoteMeta(soon.UTC().Format(time.RFC3339)) + `\s+10d\s+ExpiringSoon$`,
		`(?m)^\(cluster\)\s+cluster-ca\s+\S+\s+300d\s+OK$`,
		`(?m)^h2\s+kubelet\s+-\s+-\s+Unreadable$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if code := run([]string{"certs", "-f", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errOut); code != exitUsage {
		t.Errorf("a missing file exits %d", code)
	}
}
