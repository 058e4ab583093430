package table

import (
	"bytes"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestPrint(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{Spec: apiextensionsv1.CustomResourceDefinitionSpec{
		Group: "hacp.dev",
		Names: apiextensionsv1.CustomResourceDefinitionNames{Singular: "vipgroup"},
		Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "VRID", Type: "integer", JSONPath: ".spec.virtualRouterID"},
			{Name: "Ready", Type: "string", JSONPath: `.status.conditions[?(@.type=="Ready")].status`},
			{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
		}}},
	}}
	obj := unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "vip", "namespace": "kube-system", "creationTimestamp": "2026-01-01T00:00:00Z"},
		"spec":     map[string]any{"virtualRouterID": int64(68)},
	}}
	var b bytes.Buffer
	if err := Print(&b, crd, []unstructured.Unstructured{obj}, time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAMESPACE NAME VRID READY AGE" {
		t.Errorf("header %q", lines[0])
	}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != "kube-system vipgroup.hacp.dev/vip 68 <none> 5m" {
		t.Errorf("row %q", lines[1])
	}
}
