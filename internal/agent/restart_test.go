package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"hacp.dev/hacp/internal/check"
	"hacp.dev/hacp/internal/keepalived"
)

func TestRestartDelay(t *testing.T) {
	for _, tc := range []struct {
		prev, ranFor, want time.Duration
	}{
		{0, 0, time.Second},               // first exit
		{time.Second, 0, 2 * time.Second}, // died at once again
		{2 * time.Second, time.Second, 4 * time.Second},
		{32 * time.Second, 0, time.Minute},          // capped
		{time.Minute, 5 * time.Second, time.Minute}, // stays capped
		{time.Minute, time.Minute, time.Second},     // it ran a while: start over
		{8 * time.Second, time.Hour, time.Second},
	} {
		if got := restartDelay(tc.prev, tc.ranFor); got != tc.want {
			t.Errorf("restartDelay(%s, %s) = %s, want %s", tc.prev, tc.ranFor, got, tc.want)
		}
	}
}

// fakeKeepalived writes a stand-in for keepalived into dir: --config-test rejects configs naming
// 198.51.100.199 and hangs on 198.51.100.198; a run appends to dir/starts, exits at once while
// dir/crash exists (removing it), and otherwise runs until SIGTERM. The wrapper makes `ip` a no-op,
// so the test never touches the host's addresses.
func fakeKeepalived(t *testing.T, dir string) (binary string, wrap []string) {
	t.Helper()
	binary = filepath.Join(dir, "keepalived")
	script := `#!/bin/sh
if [ "$1" = --config-test ]; then
  if grep -q 198.51.100.199 "$3"; then echo "rejected by the fake"; exit 1; fi
  if grep -q 198.51.100.198 "$3"; then exec sleep 60; fi
  exit 0
fi
echo $$ >> ` + dir + `/starts
if [ -e ` + dir + `/crash ]; then rm -f ` + dir + `/crash; exit 1; fi
trap 'exit 0' TERM
while :; do sleep 0.05; done
`
	wrapper := filepath.Join(dir, "wrap")
	if err := os.WriteFile(binary, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\n[ \"$1\" = ip ] && exit 0\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return binary, []string{wrapper}
}

func starts(t *testing.T, dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "starts"))
	return len(strings.Fields(string(b)))
}

// keepalived exits, arming the restart timer; a config arrives before it fires and starts
// keepalived: the timer must not start a second one next to it (the two clash and the VIP flaps).
func TestSupervisorStartsKeepalivedOnceWhenAConfigArrivesDuringTheRestartDelay(t *testing.T) {
	dir := t.TempDir()
	binary, wrap := fakeKeepalived(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "crash"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	run := filepath.Join(dir, "run")
	fifo := filepath.Join(dir, "keepalived.fifo")
	sup := &Supervisor{Keepalived: binary, Dir: run, FIFO: fifo, Interface: "eth0", Wrap: wrap, Report: rec.add,
		Log: testr.New(t), StopTimeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	configs := make(chan []byte, 1)
	go func() { done <- sup.Run(ctx, configs) }()
	defer func() {
		cancel()
		<-done
	}()

	first := render(t, "/bin/true", fifo, "198.51.100.100")
	configs <- first
	waitFor(t, "keepalived to die at once", 5*time.Second, func() bool { return starts(t, dir) == 1 && rec.last().State == "STOP" })
	if err := check.Ready(run); err == nil {
		t.Fatal("ready while keepalived is not running")
	}

	second := render(t, "/bin/true", fifo, "198.51.100.101")
	configs <- second
	waitFor(t, "keepalived started for the new config", 5*time.Second, func() bool { return starts(t, dir) == 2 })
	time.Sleep(2 * restartMin)
	if n := starts(t, dir); n != 2 {
		t.Fatalf("keepalived was started %d times, want 2: the restart timer started a second copy next to the running one", n)
	}
	waitFor(t, "ready", 5*time.Second, func() bool { return check.Ready(run) == nil })

	t.Log("a config keepalived rejects: the old one keeps running, and the node is not ready")
	configs <- render(t, "/bin/true", fifo, "198.51.100.199")
	waitFor(t, "the rejection", 5*time.Second, func() bool { return rec.last().ConfigError != "" })
	if err := check.Ready(run); err == nil {
		t.Fatal("ready although keepalived does not run the current config")
	}
	if rec.last().ConfigHash != keepalived.HashConfig(second) || starts(t, dir) != 2 {
		t.Fatalf("the running keepalived was disturbed: %+v, %d starts", rec.last(), starts(t, dir))
	}

	t.Log("a config test that hangs is cut off and reported")
	old := commandTimeout
	commandTimeout = 500 * time.Millisecond
	defer func() { commandTimeout = old }()
	configs <- render(t, "/bin/true", fifo, "198.51.100.198")
	waitFor(t, "the timeout", 5*time.Second, func() bool { return strings.Contains(rec.last().ConfigError, "did not finish within") })

	t.Log("the current config again: ready")
	configs <- second
	waitFor(t, "ready again", 5*time.Second, func() bool { return check.Ready(run) == nil && rec.last().ConfigError == "" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if err := check.Ready(run); err == nil {
		t.Fatal("ready after the agent stopped")
	}
}
