package keepalived

import (
	"strings"
	"testing"
)

// TestStandbyVariant: every golden config of a VIPGroup member has a standby variant that passes
// Lint and real keepalived's --config-test, differs only in its virtual addresses (/31, /127,
// noprefixroute), and keeps every other line.
func TestStandbyVariant(t *testing.T) {
	bin, iface := keepalivedBinary(t), anyInterface(t)
	for name, in := range goldenCases() {
		if in.Bootstrap {
			continue
		}
		for node, cfg := range renderAll(t, in) {
			v, err := StandbyVariant(cfg.Text)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, node, err)
			}
			if err := Lint(v); err != nil {
				t.Errorf("%s/%s: the standby variant fails Lint: %v", name, node, err)
			}
			if out, err := configTest(t, bin, v, iface); err != nil {
				t.Errorf("%s/%s: keepalived --config-test rejects the standby variant: %v\n%s", name, node, err, out)
			}
			orig, got := strings.Split(string(cfg.Text), "\n"), strings.Split(string(v), "\n")[2:]
			if len(orig) != len(got) {
				t.Fatalf("%s/%s: %d lines, want %d", name, node, len(got), len(orig))
			}
			vips := 0
			for i := range orig {
				if orig[i] == got[i] {
					continue
				}
				vips++
				if !strings.Contains(got[i], "noprefixroute") || !(strings.Contains(got[i], "/31 ") || strings.Contains(got[i], "/127 ")) {
					t.Errorf("%s/%s: line %q became %q", name, node, orig[i], got[i])
				}
			}
			if vips == 0 {
				t.Errorf("%s/%s: no virtual address changed", name, node)
			}
		}
	}
	if _, err := StandbyVariant([]byte("global_defs {\n}\n")); err == nil {
		t.Error("a config without virtual addresses has no standby variant")
	}
}
