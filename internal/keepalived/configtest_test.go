package keepalived

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keepalivedBinary returns keepalived's path, skipping the test without it (failing under CI,
// where .ci/run installs it).
func keepalivedBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("keepalived")
	if err != nil {
		for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
			if _, statErr := os.Stat(p); statErr == nil {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("keepalived is not installed; .ci/run installs Debian's keepalived")
		}
		t.Skip("keepalived is not installed (apt-get install keepalived): skipping the real config test")
	}
	return path
}

// ConfigTest runs keepalived's own parser over text. The check command path is replaced by a
// root-owned executable that exists on this machine (the real one exists only in hacp's image):
// keepalived resolves it under enable_script_security and stops if it is missing. The interface
// is replaced by one that exists here for the same reason.
func configTest(t *testing.T, bin string, text []byte, iface string) (string, error) {
	t.Helper()
	s := strings.ReplaceAll(string(text), DefaultOptions().CheckCommand, "/bin/true")
	s = strings.ReplaceAll(s, " eth0", " "+iface)
	s = strings.ReplaceAll(s, " bond0", " "+iface)
	f := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config-test", "-f", f).CombinedOutput()
	return string(out), err
}

// anyInterface returns a non-loopback interface of this machine (keepalived refuses unknown ones
// and loopback).
func anyInterface(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skipf("no /sys/class/net: %v", err)
	}
	for _, e := range entries {
		if e.Name() != "lo" {
			return e.Name()
		}
	}
	t.Skip("no non-loopback interface")
	return ""
}

func TestGoldenConfigsPassKeepalivedConfigTest(t *testing.T) {
	bin := keepalivedBinary(t)
	iface := anyInterface(t)
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := configTest(t, bin, text, iface); err != nil {
				t.Fatalf("keepalived --config-test rejected %s: %v\n%s", f, err, out)
			}
		})
	}
}

// The test must be able to fail: a config keepalived rejects is reported as rejected.
func TestKeepalivedConfigTestRejectsBrokenConfigs(t *testing.T) {
	bin := keepalivedBinary(t)
	iface := anyInterface(t)
	text, err := os.ReadFile("testdata/seed-h1.conf")
	if err != nil {
		t.Fatal(err)
	}
	for name, broken := range map[string]string{
		"VRID out of range": strings.Replace(string(text), "virtual_router_id 68", "virtual_router_id 300", 1),
		"unknown keyword":   strings.Replace(string(text), "priority 200", "priority 200\n    no_such_keyword 1", 1),
		"unknown interface": strings.Replace(string(text), "interface eth0", "interface nosuchif0", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := configTest(t, bin, []byte(broken), iface); err == nil {
				t.Fatalf("keepalived accepted a broken config:\n%s", out)
			}
		})
	}
}

// Every printable character Validate lets into a password must reach keepalived as part of one
// auth_pass word: the fuzz test once found that '}' passed Validate and closed the authentication
// block early, which keepalived reports as unknown keywords.
func TestEveryPasswordCharacterValidateAllowsPassesKeepalived(t *testing.T) {
	bin := keepalivedBinary(t)
	iface := anyInterface(t)
	allowed := 0
	for c := byte(0x21); c < 0x7f; c++ {
		in := goldenCases()["seed"]
		in.Password = "a" + string(c) + "b"
		if len(Validate(in)) > 0 {
			continue
		}
		allowed++
		cfgs, err := renderConfigs(in)
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		for node, cfg := range cfgs {
			if out, err := configTest(t, bin, cfg.Text, iface); err != nil || strings.Contains(out, "Unknown keyword") {
				t.Errorf("password %q (node %s): keepalived rejected the config: %v\n%s", in.Password, node, err, out)
			}
			break
		}
	}
	if allowed < 62+10 {
		t.Fatalf("only %d characters allowed: letters and digits at least must be", allowed)
	}
}
