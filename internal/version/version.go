// Package version holds hacp's version, set at link time by `make build` and `make image`:
// -ldflags "-X hacp.dev/hacp/internal/version.Version=v0.3.0-12-gabcdef".
package version

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Version is hacp's version; "dev" in a plain `go build`.
var Version = "dev"

// Keepalived returns the first line keepalived prints for --version (it prints to stderr), or why
// it could not be run.
func Keepalived(ctx context.Context, binary string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--version")
	cmd.Stdin = strings.NewReader("") // a pipe, not /dev/null: an image's filesystem may have no /dev
	out, err := cmd.CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first == "" && err != nil {
		return "unavailable (" + err.Error() + ")"
	}
	return first
}
