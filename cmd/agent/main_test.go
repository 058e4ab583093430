package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A bootstrap agent whose supervisor cannot start must exit with the reason, so that kubelet
// restarts the static Pod and shows why, instead of idling without keepalived.
func TestBootstrapExitsWhenItCannotSupervise(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(conf, []byte("vrrp_instance a {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- bootstrap([]string{
			"--config=" + conf,
			"--dir=/dev/null/hacp", // cannot be created
			"--fifo=/dev/null/hacp/keepalived.fifo",
			"--keepalived=/bin/false",
			fmt.Sprintf("--handover-socket=hacp-test-%d-bootstrap-exit", os.Getpid()),
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "supervising keepalived stopped") {
			t.Fatalf("got %v, want the supervisor's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bootstrap agent kept running without keepalived")
	}
}

func TestBootstrapNeedsItsConfig(t *testing.T) {
	err := bootstrap([]string{"--config=" + filepath.Join(t.TempDir(), "missing.conf")})
	if err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Fatalf("got %v", err)
	}
}

// The bootstrap agent may write kubelet's manifest directory: it deletes only hacp's bootstrap Pod.
func TestRemoveOwnManifestOnlyRemovesTheBootstrapPod(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "etcd.yaml")
	if err := os.WriteFile(foreign, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeOwnManifest(foreign); err == nil {
		t.Fatal("removed a manifest that is not hacp's bootstrap Pod")
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("the foreign manifest is gone: %v", err)
	}
	own := filepath.Join(dir, "hacp-bootstrap.yaml")
	if err := os.WriteFile(own, []byte("command: [/usr/local/bin/hacp-agent]\nargs: [bootstrap]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeOwnManifest(own); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Fatalf("the bootstrap manifest is still there: %v", err)
	}
}
