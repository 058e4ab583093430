package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"hacp.dev/hacp/internal/keepalived"
)

// Report is what the agent tells the world about its node.
type Report struct {
	State       string
	ConfigHash  string
	ConfigError string
	Interface   string
	ChangedAt   time.Time
}

// Reporter publishes reports. It must not block for long: the supervisor calls it inline, and
// keepalived keeps running whatever the reporter does (failover never waits for the API).
type Reporter func(Report)

// Supervisor runs one keepalived for one node.
type Supervisor struct {
	// Keepalived is the keepalived binary.
	Keepalived string
	// Dir holds keepalived.conf, the notify FIFO and pid files. It must be private to this agent.
	Dir string
	// FIFO is the notify FIFO path the rendered configs name (vrrp_notify_fifo).
	FIFO string
	// Interface is reported as the node's default VRRP interface.
	Interface string
	// Wrap prefixes every command (keepalived, ip), e.g. `ip netns exec h1` in tests.
	Wrap []string
	// Report receives every change of state, applied hash or config error.
	Report Reporter
	// Log receives keepalived's own output and the supervisor's decisions.
	Log logr.Logger
	// KeepalivedOutput, if set, receives keepalived's stdout and stderr.
	KeepalivedOutput io.Writer
	// StopTimeout bounds how long a stopping keepalived may take before it is killed.
	StopTimeout time.Duration

	mu        sync.Mutex
	report    Report
	proc      *exec.Cmd
	exited    chan error
	instances map[string]string
}

func (s *Supervisor) confPath() string { return filepath.Join(s.Dir, "keepalived.conf") }

// Run supervises keepalived until ctx ends, applying each config received on configs (the
// latest wins). It returns after keepalived has stopped.
func (s *Supervisor) Run(ctx context.Context, configs <-chan []byte) error {
	if s.StopTimeout == 0 {
		s.StopTimeout = 10 * time.Second
	}
	s.instances = map[string]string{}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	events, err := s.openFIFO(ctx)
	if err != nil {
		return err
	}
	s.publish(func(r *Report) { r.Interface, r.State = s.Interface, "UNKNOWN" })

	// A predecessor that crashed (SIGKILL, OOM) left its VIPs behind; nothing of ours runs yet.
	if old, err := os.ReadFile(s.confPath()); err == nil {
		s.cleanStale(ctx, old)
	}

	restart := time.NewTimer(time.Hour)
	restart.Stop()
	var applied []byte
	for {
		var exited chan error
		s.mu.Lock()
		exited = s.exited
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return s.stop()
		case text := <-configs:
			if err := s.apply(ctx, text); err != nil {
				s.Log.Error(err, "Config not applied; the previous one keeps running")
				continue
			}
			applied = text
		case ev := <-events:
			s.mu.Lock()
			s.instances[ev.Name] = ev.State
			state := NodeState(s.instances)
			s.mu.Unlock()
			s.Log.Info("VRRP state changed", "instance", ev.Name, "state", ev.State, "priority", ev.Priority, "node", state)
			s.publish(func(r *Report) {
				if r.State != state {
					r.State, r.ChangedAt = state, time.Now()
				}
			})
		case err := <-exited:
			s.mu.Lock()
			s.proc, s.exited = nil, nil
			s.instances = map[string]string{}
			s.mu.Unlock()
			s.Log.Error(err, "keepalived exited unexpectedly; restarting in 1s")
			s.publish(func(r *Report) { r.State, r.ChangedAt = "STOP", time.Now() })
			restart.Reset(time.Second)
		case <-restart.C:
			if applied != nil {
				s.cleanStale(ctx, applied)
				if err := s.start(ctx); err != nil {
					s.Log.Error(err, "Restarting keepalived failed; retrying in 5s")
					restart.Reset(5 * time.Second)
				}
			}
		}
	}
}

// apply tests text with keepalived's own parser and, only if it passes, installs it atomically
// and starts or reloads keepalived.
func (s *Supervisor) apply(ctx context.Context, text []byte) error {
	hash := keepalived.HashConfig(text)
	if current, err := os.ReadFile(s.confPath()); err == nil && bytes.Equal(current, text) && s.running() {
		s.publish(func(r *Report) { r.ConfigHash, r.ConfigError = hash, "" })
		return nil
	}
	reject := func(err error) error {
		s.publish(func(r *Report) { r.ConfigError = truncate(err.Error(), 1000) })
		return err
	}
	if err := keepalived.Lint(text); err != nil {
		return reject(fmt.Errorf("lint: %w", err))
	}
	next := s.confPath() + ".next"
	if err := os.WriteFile(next, text, 0o600); err != nil {
		return reject(err)
	}
	out, err := command(ctx, s.Wrap, s.Keepalived, "--config-test", "-f", next).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == -1 && msg == "" {
			msg = "keepalived stopped itself during the test: is the check script present, executable and owned by root?"
		}
		_ = os.Remove(next)
		return reject(fmt.Errorf("keepalived --config-test: %v: %s", err, msg))
	}
	if err := os.Rename(next, s.confPath()); err != nil {
		return reject(err)
	}
	if s.running() {
		s.mu.Lock()
		err = s.proc.Process.Signal(syscall.SIGHUP)
		s.mu.Unlock()
		if err != nil {
			return reject(fmt.Errorf("reloading keepalived: %w", err))
		}
		s.Log.Info("Reloaded keepalived", "hash", hash)
	} else {
		s.cleanStale(ctx, text)
		if err := s.start(ctx); err != nil {
			return reject(err)
		}
		s.Log.Info("Started keepalived", "hash", hash)
	}
	s.publish(func(r *Report) { r.ConfigHash, r.ConfigError = hash, "" })
	return nil
}

func (s *Supervisor) start(ctx context.Context) error {
	// keepalived must outlive ctx's cancellation long enough to hand the VIP over cleanly, so it
	// is not tied to ctx; stop() ends it.
	cmd := command(context.WithoutCancel(ctx), s.Wrap, s.Keepalived,
		"--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file="+s.confPath(),
		"--pid="+filepath.Join(s.Dir, "keepalived.pid"),
		"--vrrp_pid="+filepath.Join(s.Dir, "vrrp.pid"),
	)
	if s.KeepalivedOutput != nil {
		cmd.Stdout, cmd.Stderr = s.KeepalivedOutput, s.KeepalivedOutput
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting keepalived: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.mu.Lock()
	s.proc, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

func (s *Supervisor) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// stop ends keepalived with SIGTERM: it sends a priority-0 advertisement, so a backup takes over
// at once instead of after the master-down interval, and removes its VIPs.
func (s *Supervisor) stop() error {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	_ = proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(s.StopTimeout):
		_ = proc.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	s.proc, s.exited = nil, nil
	s.mu.Unlock()
	s.publish(func(r *Report) { r.State, r.ChangedAt = "STOP", time.Now() })
	return nil
}

func (s *Supervisor) cleanStale(ctx context.Context, text []byte) {
	vips, err := VIPsOf(text)
	if err != nil {
		return
	}
	removed, err := removeStaleVIPs(ctx, s.Wrap, vips)
	for _, v := range removed {
		s.Log.Info("Removed a stale VIP left by a previous keepalived", "vip", v.Prefix.String(), "interface", v.Interface)
	}
	if err != nil {
		s.Log.Error(err, "Removing stale VIPs")
	}
}

// openFIFO creates the notify FIFO and streams its events. It is opened read-write so that it
// never reports EOF while keepalived restarts.
func (s *Supervisor) openFIFO(ctx context.Context) (<-chan FIFOEvent, error) {
	_ = os.Remove(s.FIFO)
	if err := syscall.Mkfifo(s.FIFO, 0o600); err != nil {
		return nil, fmt.Errorf("creating notify FIFO %s: %w", s.FIFO, err)
	}
	f, err := os.OpenFile(s.FIFO, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	out := make(chan FIFOEvent, 64)
	go func() {
		<-ctx.Done()
		// Let the last STOP lines through before closing.
		time.Sleep(s.StopTimeout + time.Second)
		_ = f.Close()
	}()
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			ev, err := ParseFIFOLine(sc.Text())
			if err != nil || ev.Kind != "INSTANCE" {
				continue
			}
			select {
			case out <- ev:
			default: // the loop is gone; drop
			}
		}
	}()
	return out, nil
}

func (s *Supervisor) publish(change func(*Report)) {
	s.mu.Lock()
	before := s.report
	change(&s.report)
	after := s.report
	s.mu.Unlock()
	if after != before && s.Report != nil {
		s.Report(after)
	}
}

// Current returns the latest report.
func (s *Supervisor) Current() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.report
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
