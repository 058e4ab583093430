package check_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"hacp.dev/hacp/internal/check"
	"hacp.dev/hacp/test/testbin"
)

// BenchmarkCheckStart is the cost of one readiness probe or health check as kubelet and
// keepalived pay it: a process start of the binary, side by side for hacp-check and for
// hacp-agent (which ran both before hacp-check). cpu-ms/op is the process's user + system CPU.
// `make bench-check`.
func BenchmarkCheckStart(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, check.ReadyFile), []byte("abc123\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bin := range []struct{ pkg, name string }{{"./cmd/check", "hacp-check"}, {"./cmd/agent", "hacp-agent"}} {
		path := testbin.Build(b, bin.pkg, bin.name)
		b.Run(bin.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				cmd := exec.Command(path, "ready", "--dir="+dir)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s ready: %v: %s", bin.name, err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
