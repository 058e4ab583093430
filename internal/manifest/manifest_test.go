package manifest

import (
	"os"
	"strings"
	"testing"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func TestDecodeExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/haclusterplane.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	var vg hacpv1.VIPGroup
	if ok, err := Into(objs, "VIPGroup", &vg); !ok || err != nil {
		t.Fatalf("VIPGroup: found=%v err=%v", ok, err)
	}
	if vg.Spec.VirtualRouterID != 68 || vg.Spec.VirtualIPs[0] != "192.168.1.8" {
		t.Errorf("unexpected VIPGroup spec %+v", vg.Spec)
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"no kind":       {"apiVersion: v1\nmetadata: {name: x}\n", "apiVersion and kind are required"},
		"broken yaml":   {"kind: [\n", "document 1"},
		"second is bad": {"apiVersion: v1\nkind: A\n---\nfoo: bar\n", "document 2"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestIntoRejectsUnknownFields(t *testing.T) {
	objs, err := Decode([]byte("apiVersion: hacp.dev/v1alpha1\nkind: VIPGroup\nmetadata: {name: x}\nspec: {virtualIPs: [10.0.0.1], virtualRouterId: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var vg hacpv1.VIPGroup
	if _, err := Into(objs, "VIPGroup", &vg); err == nil || !strings.Contains(err.Error(), "virtualRouterId") {
		t.Fatalf("want unknown-field error naming virtualRouterId, got %v", err)
	}
}
