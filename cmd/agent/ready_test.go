package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hacp.dev/hacp/internal/agent"
)

func TestReadyProbe(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	if code := ready([]string{"--dir=" + dir}, &stderr); code != 1 || !strings.Contains(stderr.String(), "does not run the current config") {
		t.Fatalf("no ready file: exit %d, %q; want 1 and why", code, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, agent.ReadyFile), []byte("abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := ready([]string{"--dir=" + dir}, &stderr); code != 0 {
		t.Fatalf("ready file present: exit %d", code)
	}
}
