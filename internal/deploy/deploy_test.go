package deploy

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"hacp.dev/hacp/internal/manifest"
)

func TestSplitImage(t *testing.T) {
	for _, tc := range []struct{ in, name, tag, digest string }{
		{"hacp:dev", "hacp", "dev", ""},
		{"hacp", "hacp", "", ""},
		{"reg.example:5000/team/hacp:v1.2", "reg.example:5000/team/hacp", "v1.2", ""},
		{"reg.example:5000/hacp", "reg.example:5000/hacp", "", ""},
		{"reg.example/hacp@sha256:abc", "reg.example/hacp", "", "sha256:abc"},
		{"reg.example/hacp:v1@sha256:abc", "reg.example/hacp", "v1", "sha256:abc"},
	} {
		name, tag, digest, err := SplitImage(tc.in)
		if err != nil || name != tc.name || tag != tc.tag || digest != tc.digest {
			t.Errorf("SplitImage(%q) = %q %q %q %v, want %q %q %q", tc.in, name, tag, digest, err, tc.name, tc.tag, tc.digest)
		}
	}
	for _, bad := range []string{"", "a b", ":v1"} {
		if _, _, _, err := SplitImage(bad); err == nil {
			t.Errorf("SplitImage(%q) succeeded", bad)
		}
	}
}

// TestRenderOrder: what make deploy pipes into one kubectl apply creates each Namespace and CRD
// before anything that needs it. On a real cluster the other order failed with `namespaces
// "hacp-system" not found` (found by the kubeadm lab's quick start).
func TestRenderOrder(t *testing.T) {
	for _, config := range []string{"default", "with-pki"} {
		out, err := Render(filepath.Join("..", "..", "config", config), "registry.example/hacp:v1")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		defined := map[string]bool{}
		for _, o := range objs {
			if o.GetKind() == "Namespace" {
				defined[o.GetName()] = true
			}
		}
		seenNS, seenCRD := map[string]bool{}, false
		images := 0
		for _, o := range objs {
			switch o.GetKind() {
			case "Namespace":
				seenNS[o.GetName()] = true
			case "CustomResourceDefinition":
				seenCRD = true
			}
			if ns := o.GetNamespace(); defined[ns] && !seenNS[ns] {
				t.Errorf("%s: %s %s/%s comes before its Namespace", config, o.GetKind(), ns, o.GetName())
			}
			if o.GetKind() != "CustomResourceDefinition" && !seenCRD {
				// Legacy order puts CRDs right after Namespaces.
				if o.GetKind() != "Namespace" {
					t.Errorf("%s: %s %s comes before the CRDs", config, o.GetKind(), o.GetName())
				}
			}
			if strings.Contains(string(mustJSON(t, o.Object)), `"image":"registry.example/hacp:v1"`) {
				images++
			}
		}
		if images != 1 {
			t.Errorf("%s: %d objects with the image, want the manager's Deployment", config, images)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
