package deploy

import "testing"

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
