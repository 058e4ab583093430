package agent

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// impostorListen binds sock and answers every command "active", as a squatter on the bootstrap
// agent's name would.
func impostorListen(sock string) int {
	l, err := net.Listen("unix", "@"+sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = fmt.Fprintln(c, "active")
		_ = c.Close()
	}
}

// impostorAsk sends command to sock and prints the reply.
func impostorAsk(sock, command string) int {
	c, err := net.Dial("unix", "@"+sock)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	_, _ = fmt.Fprintln(c, command)
	reply, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(reply)
	return 0
}

// impostor returns a command running this test binary under another name (so it is not
// hacp-agent), as uid.
func impostor(t *testing.T, uid uint32, env ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the impostor runs under another uid or binary name")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hacp-impostor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "impostor")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}

// The DaemonSet's agent refuses a listener that is not root, or root but not hacp-agent: a
// squatter on the bootstrap agent's name must not make it believe a bootstrap keepalived runs
// (it would adopt VIPs as the bootstrap's) or receive the retire command.
func TestHandoverClientRefusesAnUntrustedListener(t *testing.T) {
	for name, uid := range map[string]uint32{"non-root": 65534, "root, another binary": 0} {
		t.Run(name, func(t *testing.T) {
			sock := socketName(t)
			cmd := impostor(t, uid, "HACP_TEST_LISTEN="+sock)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "listening\n" {
				t.Fatalf("the impostor did not listen: %q", line)
			}
			_, err = askBootstrap(context.Background(), sock, "status")
			if err == nil || !strings.Contains(err.Error(), "refusing the listener") {
				t.Fatalf("asked an untrusted listener: %v", err)
			}
			h := &Handover{Socket: sock, Log: testr.NewWithInterface(t, testr.Options{})}
			if h.Probe(context.Background()) {
				t.Fatal("an untrusted listener passed for a bootstrap agent")
			}
		})
	}
}

// The bootstrap agent refuses a retire from a peer that is not root, or root but not hacp-agent.
func TestHandoverServerRefusesAnUntrustedAsker(t *testing.T) {
	sock := socketName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	retired := make(chan HandoverMode, 1)
	srv := &HandoverServer{Socket: sock, Log: testr.NewWithInterface(t, testr.Options{}), Retire: func(m HandoverMode) error { retired <- m; return nil }}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, l) }()
	for name, tc := range map[string]struct {
		uid  uint32
		want string
	}{
		"non-root":             {65534, "not root"},
		"root, another binary": {0, "not hacp-agent"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := impostor(t, tc.uid, "HACP_TEST_ASK="+sock, "HACP_TEST_COMMAND=retire keep")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !strings.Contains(string(out), "error") || !strings.Contains(string(out), tc.want) {
				t.Fatalf("reply %q, want a refusal saying %q", out, tc.want)
			}
		})
	}
	select {
	case m := <-retired:
		t.Fatalf("an untrusted peer retired the bootstrap keepalived (%s)", m)
	case <-time.After(100 * time.Millisecond):
	}
	if srv.Retired() {
		t.Fatal("retired")
	}
	// The trusted path still works: this test binary is an hacp agent.
	if reply, err := askBootstrap(ctx, sock, "status"); err != nil || reply != "active" {
		t.Fatalf("status from a trusted peer: %q, %v", reply, err)
	}
}
