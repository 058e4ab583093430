package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hacp.dev/hacp/internal/keepalived"
)

const example = "../../examples/haclusterplane.yaml"

func TestRenderSeedNode(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--peer", "h2=192.168.1.10", "--peer", "h3=192.168.1.9", "--password-file", pw}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("unexpected stderr: %s", errOut.String())
	}
	if err := keepalived.Lint(out.Bytes()); err != nil {
		t.Fatalf("rendered config fails Lint: %v\n%s", err, out.String())
	}
	for _, want := range []string{"unicast_src_ip 192.168.1.12", "192.168.1.10\n", "192.168.1.9\n", "192.168.1.8/32 dev eth0", "virtual_router_id 68", "auth_pass s3cret", "weight 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config lacks %q", want)
		}
	}
}

func TestRenderGeneratesPasswordWithWarning(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--mode", "weighted"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "WARNING: no --password-file; generated a VRRP password") {
		t.Errorf("no password warning: %s", errOut.String())
	}
	// The generated password is in the config on stdout, and nowhere else: stderr ends up in
	// terminals, CI logs and bug reports.
	pw := authPass(t, out.Bytes())
	if strings.Contains(errOut.String(), pw) {
		t.Errorf("stderr prints the generated password %q: %s", pw, errOut.String())
	}
	if !strings.Contains(errOut.String(), "only member") {
		t.Errorf("no lone-member note: %s", errOut.String())
	}
	if !strings.Contains(out.String(), "weight -100") {
		t.Errorf("weighted mode not applied:\n%s", out.String())
	}
}

func TestRenderRejectsBadInputWithExitCode2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: hacp.dev/v1alpha1\nkind: VIPGroup\nmetadata: {name: x}\nspec: {virtualIPs: [192.168.1.8], virtualRouterID: 300}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte("ninechars"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no args":                  {[]string{"render"}, "-f FILE and --node NAME=ADDRESS are required"},
		"bad node":                 {[]string{"render", "-f", example, "--node", "h1"}, `"h1" is not NAME=ADDRESS`},
		"bad address":              {[]string{"render", "-f", example, "--node", "h1=1.2.3"}, `"1.2.3" is not an IP address`},
		"missing file":             {[]string{"render", "-f", filepath.Join(dir, "nope"), "--node", "h1=192.168.1.12"}, "no such file"},
		"bad mode":                 {[]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--mode", "tcp"}, "want weighted or quorum-aware"},
		"invalid VRID":             {[]string{"render", "-f", bad, "--node", "h1=192.168.1.12", "--password-file", long}, "spec.virtualRouterID"},
		"long password":            {[]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--password-file", long}, "at most 8 characters"},
		"self as peer":             {[]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--peer", "h2=192.168.1.12"}, "Duplicate value"},
		"VIP as node":              {[]string{"render", "-f", example, "--node", "h1=192.168.1.8"}, "also a virtual IP"},
		"unknown flag":             {[]string{"render", "--bogus"}, "flag provided but not defined"},
		"interface with a newline": {[]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--interface", "eth0\n}\nglobal_defs {"}, "--interface"},
		"interface too long":       {[]string{"render", "-f", example, "--node", "h1=192.168.1.12", "--interface", "averyveryverylongif0"}, "not a network interface name"},
		"unknown command":          {[]string{"frobnicate"}, "unknown command"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), tc.want)
			}
			if out.Len() != 0 {
				t.Fatalf("printed a config on error:\n%s", out.String())
			}
		})
	}
}

// authPass returns the auth_pass of a rendered config.
func authPass(t *testing.T, conf []byte) string {
	t.Helper()
	for _, line := range strings.Split(string(conf), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "auth_pass" {
			return f[1]
		}
	}
	t.Fatalf("no auth_pass in:\n%s", conf)
	return ""
}
