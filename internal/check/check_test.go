package check

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAPIServer(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("[-]etcd failed: reason withheld"))
	}))
	defer srv.Close()
	host, portText, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	ctx := context.Background()
	if err := APIServer(ctx, host, port, "/readyz", time.Second); err != nil {
		t.Fatalf("ready API server (self-signed certificate): %v", err)
	}
	status = http.StatusInternalServerError
	if err := APIServer(ctx, host, port, "/readyz", time.Second); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "etcd failed") {
		t.Fatalf("unready API server: %v, want the status and the body", err)
	}
	if err := APIServer(ctx, host, port, "/livez", time.Second); err == nil {
		t.Fatal("a path that is not there passed")
	}
	srv.Close()
	if err := APIServer(ctx, host, port, "/readyz", time.Second); err == nil {
		t.Fatal("nothing listening passed")
	}
}

func TestReady(t *testing.T) {
	dir := t.TempDir()
	if err := Ready(dir); err == nil || !strings.Contains(err.Error(), "does not run the current config") {
		t.Fatalf("no ready file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReadyFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Ready(dir); err == nil {
		t.Fatal("an empty ready file passed")
	}
	if err := os.WriteFile(filepath.Join(dir, ReadyFile), []byte("abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Ready(dir); err != nil {
		t.Fatalf("ready file with a hash: %v", err)
	}
}

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		command string
		args    []string
		code    int
		says    string
	}{
		{"ready", []string{"--dir=" + dir}, 1, "does not run the current config"},
		{"ready", nil, 2, "--dir is required"},
		{"ready", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"check-apiserver", []string{"--port=1", "--timeout=200ms"}, 1, "127.0.0.1:1"},
		{"reboot", nil, 2, "unknown check"},
	} {
		var stderr bytes.Buffer
		if code := Main(tc.command, tc.args, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.says) {
			t.Errorf("%s %v: exit %d, %q; want %d and %q", tc.command, tc.args, code, stderr.String(), tc.code, tc.says)
		}
	}
}

// TestImportsStayLight: hacp-check starts several times a second across a cluster's nodes, so
// it links the standard library only. A Kubernetes library would bring back its package
// initialization (40-90 ms of CPU per start for hacp-agent).
func TestImportsStayLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "hacp.dev/hacp/cmd/check").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "hacp.dev/hacp/cmd/check" && pkg != "hacp.dev/hacp/internal/check" {
			t.Errorf("hacp-check links %s: keep it to the standard library", pkg)
		}
	}
}
