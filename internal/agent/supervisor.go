package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// Reporter publishes reports. It must not block for long: the supervisor calls it inline, and
// keepalived keeps running whatever the reporter does (failover never waits for the API).
type Reporter func(contract.Report)

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
	// Applied, if set, is called with each config keepalived runs, after it passed keepalived's
	// own --config-test (the agent keeps it on the host for the node's standby).
	Applied func(text []byte)
	// Left, if set, is called when this node leaves the group (a nil config), once keepalived
	// has stopped.
	Left func()
	// StopTimeout bounds how long a stopping keepalived may take before it is killed.
	StopTimeout time.Duration
	// Adopt, when set and true, leaves VIPs already on the interface in place when keepalived
	// starts instead of removing them as stale: a bootstrap keepalived on this node holds them
	// and hands them over (see Handover).
	Adopt func() bool

	mu        sync.Mutex
	report    contract.Report
	wanted    string // hash of the latest config given
	startedAt time.Time
	proc      *exec.Cmd
	exited    chan error
	instances map[string]contract.VRRPState
	hardStop  bool
	// leftovers are what the bootstrap keepalived left on the interface while this keepalived
	// held the VIPs as MASTER, by instance (ExpectLeftoverVIPs).
	leftovers map[string]leftover
}

func (s *Supervisor) confPath() string { return filepath.Join(s.Dir, contract.ConfigFile) }

// Run supervises keepalived until ctx ends, applying each config received on configs (the
// latest wins); a nil config means this node left the group, and keepalived stops until the
// next config. It returns after keepalived has stopped.
func (s *Supervisor) Run(ctx context.Context, configs <-chan []byte) error {
	if s.StopTimeout == 0 {
		s.StopTimeout = 10 * time.Second
	}
	s.instances = map[string]contract.VRRPState{}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	events, err := s.openFIFO(ctx)
	if err != nil {
		return err
	}
	s.publish(func(r *contract.Report) { r.Interface, r.State = s.Interface, hacpv1.VRRPStateUnknown })

	// A predecessor that crashed (SIGKILL, OOM) left its VIPs behind; nothing of ours runs yet.
	if old, err := os.ReadFile(s.confPath()); err == nil {
		s.cleanStale(ctx, old)
	}

	restart := time.NewTimer(time.Hour)
	restart.Stop()
	var applied []byte
	var delay time.Duration // the last restart delay; grows while keepalived keeps dying young
	for {
		var exited chan error
		s.mu.Lock()
		exited = s.exited
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return s.stop()
		case text := <-configs:
			if text == nil {
				// This node left the group (its Node deleted, relabelled, or without an
				// address): the members no longer send it advertisements and drop its own
				// ("not a unicast peer"), so a keepalived left running here would elect itself
				// and hold the VIP beside the group's master. SIGTERM hands the VIP over at once.
				restart.Stop()
				if applied != nil || s.running() {
					s.Log.Info("This node is no longer a member of the group: stopping keepalived")
					_ = s.stop()
				}
				applied = nil
				s.setWanted(nil)
				s.publish(func(r *contract.Report) { r.ConfigHash, r.ConfigError = "", "" })
				s.updateReady()
				if s.Left != nil {
					s.Left()
				}
				continue
			}
			s.setWanted(text)
			err := s.apply(ctx, text)
			s.updateReady()
			if err != nil {
				s.Log.Error(err, "Config not applied; the previous one keeps running")
				continue
			}
			applied = text
			if s.running() {
				// A restart armed by an exit is moot: apply started keepalived.
				restart.Stop()
			}
		case ev := <-events:
			s.mu.Lock()
			s.instances[ev.Name] = ev.State
			state := NodeState(s.instances)
			s.mu.Unlock()
			s.Log.Info("VRRP state changed", "instance", ev.Name, "state", ev.State, "priority", ev.Priority, "node", state)
			if ev.State != hacpv1.VRRPStateMaster {
				s.removeLeftovers(ctx, ev.Name)
			}
			s.publish(func(r *contract.Report) {
				if r.State != state {
					r.State, r.ChangedAt = state, time.Now()
				}
			})
		case err := <-exited:
			s.mu.Lock()
			ranFor := time.Since(s.startedAt)
			s.proc, s.exited = nil, nil
			s.instances = map[string]contract.VRRPState{}
			s.mu.Unlock()
			delay = restartDelay(delay, ranFor)
			s.Log.Error(err, "keepalived exited unexpectedly; restarting", "after", delay, "ranFor", ranFor.Round(time.Millisecond))
			s.publish(func(r *contract.Report) { r.State, r.ChangedAt = hacpv1.VRRPStateStop, time.Now() })
			s.updateReady()
			restart.Reset(delay)
		case <-restart.C:
			// A config may have started keepalived since the timer was armed: never a second one.
			if applied != nil && !s.running() {
				s.cleanStale(ctx, applied)
				if err := s.start(ctx); err != nil {
					delay = restartDelay(delay, 0)
					s.Log.Error(err, "Restarting keepalived failed; retrying", "after", delay)
					restart.Reset(delay)
				}
				s.updateReady()
			}
		}
	}
}

// apply tests text with keepalived's own parser and, only if it passes, installs it atomically
// and starts or reloads keepalived.
func (s *Supervisor) apply(ctx context.Context, text []byte) error {
	hash := keepalived.HashConfig(text)
	if current, err := os.ReadFile(s.confPath()); err == nil && bytes.Equal(current, text) && s.running() {
		s.publish(func(r *contract.Report) { r.ConfigHash, r.ConfigError = hash, "" })
		return nil
	}
	reject := func(err error) error {
		s.publish(func(r *contract.Report) { r.ConfigError = truncate(err.Error(), 1000) })
		return err
	}
	if err := keepalived.Lint(text); err != nil {
		return reject(fmt.Errorf("lint: %w", err))
	}
	next := s.confPath() + ".next"
	if err := os.WriteFile(next, text, 0o600); err != nil {
		return reject(err)
	}
	out, err := runShort(ctx, s.Wrap, s.Keepalived, "--config-test", "-f", next)
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
	s.publish(func(r *contract.Report) { r.ConfigHash, r.ConfigError = hash, "" })
	if s.Applied != nil {
		s.Applied(text)
	}
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
	s.proc, s.exited, s.startedAt = cmd, exited, time.Now()
	s.mu.Unlock()
	return nil
}

// Restart delays: keepalived that dies at once is restarted after 1 s, then 2 s, 4 s, ... up to
// a minute; one that ran for a minute or more before dying starts the series again.
const (
	restartMin = time.Second
	restartMax = time.Minute
)

// restartDelay returns the delay before restarting keepalived, given the previous delay (0 for
// none) and how long it ran before it exited.
func restartDelay(prev, ranFor time.Duration) time.Duration {
	if prev == 0 || ranFor >= restartMax {
		return restartMin
	}
	return min(2*prev, restartMax)
}

// setWanted records the latest config the supervisor was given.
func (s *Supervisor) setWanted(text []byte) {
	s.mu.Lock()
	s.wanted = ""
	if text != nil {
		s.wanted = keepalived.HashConfig(text)
	}
	s.mu.Unlock()
}

// updateReady writes or removes contract.ReadyFile, which the readiness probe reads: present, with
// the hash, exactly while keepalived runs and the latest config given is the one it runs.
func (s *Supervisor) updateReady() {
	s.mu.Lock()
	ready := s.proc != nil && s.wanted != "" && s.wanted == s.report.ConfigHash && s.report.ConfigError == ""
	hash := s.wanted
	s.mu.Unlock()
	path := filepath.Join(s.Dir, contract.ReadyFile)
	if !ready {
		_ = os.Remove(path)
		return
	}
	if err := os.WriteFile(path+".tmp", []byte(hash+"\n"), 0o600); err == nil {
		_ = os.Rename(path+".tmp", path)
	}
}

func (s *Supervisor) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// InstanceStates returns the latest state of each of keepalived's VRRP instances.
func (s *Supervisor) InstanceStates() map[string]contract.VRRPState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.instances)
}

// ExpectLeftoverVIPs records that a bootstrap keepalived left its VIP entries on the interface
// while this one holds the VIPs as MASTER. They cannot go at once: keepalived treats the deletion
// of any entry of its VIP's address as the loss of the VIP. They go, per instance, when this
// keepalived's instance leaves MASTER (it has removed its own entries by then), or when it stops.
func (s *Supervisor) ExpectLeftoverVIPs() {
	// Found now, so that when they go only `ip addr del` runs: the peers take the VIPs over
	// about 0.2 s after this keepalived's priority-0 advertisement, and an entry left for longer
	// is a second holder (seen on a loaded kubeadm lab: a look-up and a delete took 0.6 s).
	found := map[string]*leftover{}
	for _, v := range s.appliedVIPs() {
		l := found[v.Instance]
		if l == nil {
			l = &leftover{known: true}
			found[v.Instance] = l
		}
		entries, err := vipEntries(context.Background(), s.Wrap, v)
		if err != nil {
			l.known = false
			continue
		}
		for _, p := range entries {
			if p.Bits() != v.Prefix.Bits() {
				l.entries = append(l.entries, VIP{Instance: v.Instance, Prefix: p, Interface: v.Interface})
			}
		}
	}
	s.mu.Lock()
	if s.leftovers == nil {
		s.leftovers = map[string]leftover{}
	}
	for name, l := range found {
		s.leftovers[name] = *l
	}
	s.mu.Unlock()
	// An instance that left MASTER since the handover was decided sent its event already.
	for name, state := range s.InstanceStates() {
		if state != hacpv1.VRRPStateMaster {
			s.removeLeftovers(context.Background(), name)
		}
	}
}

// leftover is what the bootstrap keepalived left of one instance's VIPs: the entries, when known
// (when the look-up at the handover failed, they are looked up as they go).
type leftover struct {
	entries []VIP
	known   bool
}

// appliedVIPs lists the VIPs of the installed keepalived.conf.
func (s *Supervisor) appliedVIPs() []VIP {
	text, err := os.ReadFile(s.confPath())
	if err != nil {
		return nil
	}
	vips, err := VIPsOf(text)
	if err != nil {
		return nil
	}
	return vips
}

// removeLeftovers deletes the leftover entries of instance's VIPs (every instance's when
// instance is ""). While keepalived runs, only entries with another prefix length than the
// config's own are deleted, so keepalived's own entries stay untouched.
func (s *Supervisor) removeLeftovers(ctx context.Context, instance string) {
	s.mu.Lock()
	pending := map[string]leftover{}
	for name, l := range s.leftovers {
		if instance == "" || name == instance {
			pending[name] = l
			delete(s.leftovers, name)
		}
	}
	s.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	logRemoved := func(removed []VIP, err error) {
		for _, r := range removed {
			s.Log.Info("Removed the VIP entry the bootstrap keepalived left", "vip", r.Prefix.String(), "interface", r.Interface)
		}
		if err != nil {
			s.Log.Error(err, "Removing the VIP entries the bootstrap keepalived left")
		}
	}
	if l := pending[instance]; instance != "" && l.known {
		logRemoved(deleteVIPEntries(ctx, s.Wrap, l.entries))
		return
	}
	for _, v := range s.appliedVIPs() {
		if _, ok := pending[v.Instance]; !ok {
			continue
		}
		own := v.Prefix.Bits()
		keep := func(p netip.Prefix) bool { return instance != "" && p.Bits() == own }
		logRemoved(removeVIPEntries(ctx, s.Wrap, []VIP{v}, keep))
	}
}

// LeaveVIPsOnStop makes the coming stop (when Run's ctx ends) kill keepalived without cleanup,
// so its VIPs stay on the interface: the bootstrap keepalived does this when the DaemonSet's
// keepalived on the same node already holds them as MASTER.
func (s *Supervisor) LeaveVIPsOnStop() {
	s.mu.Lock()
	s.hardStop = true
	s.mu.Unlock()
}

// stop ends keepalived with SIGTERM: it sends a priority-0 advertisement, so a backup takes over
// at once instead of after the master-down interval, and removes its VIPs. After
// LeaveVIPsOnStop it kills keepalived instead, leaving the VIPs.
func (s *Supervisor) stop() error {
	s.mu.Lock()
	proc, exited, hard := s.proc, s.exited, s.hardStop
	s.mu.Unlock()
	if proc == nil {
		return nil
	}
	if hard {
		s.killLeavingVIPs(proc)
	} else {
		_ = proc.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(s.StopTimeout):
		_ = proc.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	s.proc, s.exited = nil, nil
	s.mu.Unlock()
	s.updateReady()
	if !hard {
		s.removeLeftovers(context.Background(), "")
	}
	s.publish(func(r *contract.Report) { r.State, r.ChangedAt = hacpv1.VRRPStateStop, time.Now() })
	return nil
}

// killLeavingVIPs kills keepalived so that nothing removes its VIPs. keepalived's parent would
// restart a dead VRRP child, and the child stops cleanly (removing VIPs) when its parent dies,
// so: freeze the parent, kill the child, then kill the parent.
func (s *Supervisor) killLeavingVIPs(proc *exec.Cmd) {
	_ = proc.Process.Signal(syscall.SIGSTOP)
	if b, err := os.ReadFile(filepath.Join(s.Dir, "vrrp.pid")); err == nil {
		var child int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &child); err == nil && child > 1 && child != proc.Process.Pid {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
	}
	_ = proc.Process.Kill()
	s.Log.Info("Killed keepalived without cleanup: its VIPs stay on the interface")
}

func (s *Supervisor) cleanStale(ctx context.Context, text []byte) {
	if s.Adopt != nil && s.Adopt() {
		s.Log.Info("Leaving VIPs on the interface in place: a bootstrap keepalived on this node holds them")
		return
	}
	vips, err := VIPsOf(text)
	if err != nil {
		return
	}
	removed, err := removeVIPEntries(ctx, s.Wrap, vips, nil)
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

func (s *Supervisor) publish(change func(*contract.Report)) {
	s.mu.Lock()
	before := s.report
	change(&s.report)
	after := s.report
	s.mu.Unlock()
	if after != before && s.Report != nil {
		s.Report(after)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
