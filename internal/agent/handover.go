package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
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

// The seed-to-operator handover.
//
// Before the cluster exists, `hacpctl bootstrap` installs a static Pod on the first node that runs
// `hacp-agent bootstrap`: keepalived with a one-member config, so the VIP answers when `kubeadm
// init` needs it. Once the VIPGroup's DaemonSet runs on that node, its agent starts its own
// keepalived next to the bootstrap one (both hold the VIP on the same interface, which is
// harmless on one host) and, once its keepalived has settled, asks the bootstrap agent to retire.
// The two agents talk over an abstract unix socket: both Pods use the host's network namespace,
// which scopes abstract sockets, so no shared host directory is needed.
//
//   - The DaemonSet's keepalived is MASTER: the bootstrap agent kills its keepalived hard
//     (SIGKILL, no cleanup), so its VIP entries stay on the interface next to the DaemonSet
//     keepalived's own. The VIP is never absent. The leftover entries go when the DaemonSet's
//     keepalived next lets the VIP go (Supervisor.ExpectLeftoverVIPs).
//   - The DaemonSet's keepalived stayed BACKUP or FAULT past the master-down interval: another
//     node is MASTER (or, FAULT, this node may not hold the VIPs: its API server is not ready),
//     so the bootstrap keepalived stops cleanly and takes its VIPs with it. Never two holders.
//   - Anything else (still starting, MASTER on one family only): wait. The bootstrap keeps the VIP.
//
// Why two entries: keepalived deletes its VIPs when it starts, whoever added them, and treats the
// deletion of any entry of a VIP's address as the loss of the VIP. So the bootstrap config holds
// the VIPs as /31 (IPv6: /127) without a prefix route (keepalived.Input.Bootstrap). The
// DaemonSet's keepalived deletes /32 (/128) entries at startup, which misses them, and the
// bootstrap keepalived sees no deletion and stays MASTER until it is killed. The kernel keeps one
// entry per IPv6 address, so for IPv6 the DaemonSet's keepalived adopts the bootstrap's entry
// (keepalived takes "exists" as success) rather than adding its own.

// HandoverMode is how the bootstrap keepalived goes.
type HandoverMode string

const (
	// HandoverKeep leaves the VIPs on the interface: the DaemonSet's keepalived holds them.
	HandoverKeep HandoverMode = "keep"
	// HandoverRelease removes them: another node is MASTER.
	HandoverRelease HandoverMode = "release"
)

// Handover replies.
const (
	handoverActive  = "active"
	handoverRetired = "retired"
)

// HandoverServer answers for a bootstrap keepalived.
type HandoverServer struct {
	// Socket is the abstract socket name (without the leading '@').
	Socket string
	// Retire stops the bootstrap keepalived as mode says. It is called at most once successfully.
	Retire func(HandoverMode) error
	Log    logr.Logger

	mu      sync.Mutex
	retired bool
}

// Listen binds the socket. A second bootstrap agent on the same host fails here.
func (h *HandoverServer) Listen() (net.Listener, error) {
	l, err := net.Listen("unix", "@"+h.Socket)
	if err != nil {
		return nil, fmt.Errorf("listening on @%s (is another bootstrap agent running on this host?): %w", h.Socket, err)
	}
	return l, nil
}

// Serve answers on l until ctx ends.
func (h *HandoverServer) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go h.handle(conn)
	}
}

// Retired reports whether the bootstrap keepalived has been handed over.
func (h *HandoverServer) Retired() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.retired
}

func (h *HandoverServer) handle(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// An abstract socket has no file permissions: anything in the host's network namespace can
	// connect. Only root running hacp-agent (the DaemonSet's agent) may make the bootstrap
	// keepalived go.
	if err := checkPeer(conn); err != nil {
		h.Log.Info("Refused a handover connection", "reason", err.Error())
		_, _ = fmt.Fprintln(conn, "error "+oneLine(err.Error()))
		return
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	reply := h.answer(strings.Fields(line))
	_, _ = fmt.Fprintln(conn, reply)
}

func (h *HandoverServer) answer(cmd []string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	state := handoverActive
	if h.retired {
		state = handoverRetired
	}
	switch {
	case len(cmd) == 1 && cmd[0] == "status":
		return state
	case len(cmd) == 2 && cmd[0] == "retire" && (cmd[1] == string(HandoverKeep) || cmd[1] == string(HandoverRelease)):
		if h.retired {
			return handoverRetired
		}
		mode := HandoverMode(cmd[1])
		h.Log.Info("The DaemonSet's agent asks the bootstrap keepalived to retire", "mode", mode)
		if err := h.Retire(mode); err != nil {
			h.Log.Error(err, "Retiring the bootstrap keepalived failed")
			return "error " + oneLine(err.Error())
		}
		h.retired = true
		return handoverRetired
	default:
		return "error unknown command " + fmt.Sprintf("%q", strings.Join(cmd, " "))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkPeer accepts the other end of a handover connection only if it is root and, where its
// process is visible from here (same PID namespace), runs hacp-agent. Both ends call it: the
// bootstrap agent about who asks, the DaemonSet's agent about who listens (any process in the
// host's network namespace could bind the abstract name first).
func checkPeer(conn net.Conn) error {
	cred, err := peerCred(conn)
	if err != nil {
		return fmt.Errorf("reading the peer's credentials: %w", err)
	}
	if cred.Uid != 0 {
		return fmt.Errorf("the peer runs as uid %d, not root", cred.Uid)
	}
	// A peer in another PID namespace (the other Pod) shows pid 0: its uid is all there is.
	if cred.Pid > 0 {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cred.Pid))
		if err == nil && !allowedPeerExe(exe) {
			return fmt.Errorf("the peer (pid %d) runs %s, not hacp-agent", cred.Pid, exe)
		}
	}
	return nil
}

// allowedPeerExe reports whether a peer's executable is an hacp agent: hacp-agent, or a test
// binary of this package (agent.test) talking to itself.
func allowedPeerExe(exe string) bool {
	base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	return base == "hacp-agent" || base == "agent.test"
}

func peerCred(conn net.Conn) (*syscall.Ucred, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, credErr
	}
	return cred, nil
}

// askBootstrap sends one command and returns the reply. A missing socket means no bootstrap
// agent runs on this host.
func askBootstrap(ctx context.Context, socket, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", "@"+socket)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if err := checkPeer(conn); err != nil {
		return "", fmt.Errorf("refusing the listener on @%s: %w", socket, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintln(conn, command); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	reply = strings.TrimSpace(reply)
	if msg, ok := strings.CutPrefix(reply, "error "); ok {
		return "", fmt.Errorf("bootstrap agent: %s", msg)
	}
	return reply, nil
}

// DecideHandover is the DaemonSet agent's rule. instances are its keepalived's instance states;
// settledFor is how long none of them has been MASTER and all have been BACKUP or FAULT;
// masterDown is the longest time a BACKUP waits before taking over when it hears no master.
//
// The rule never leaves two holders for longer than a VRRP election would: the bootstrap
// keepalived knows no peers, so it keeps the VIPs whatever other nodes do. It may keep them only
// while this node's own keepalived may become MASTER. A FAULT instance (QuorumAware: the node's
// API server is not ready) never will, and another node takes the VIPs within the master-down
// interval, so past it the bootstrap keepalived goes as it does for a settled BACKUP.
func DecideHandover(instances map[string]contract.VRRPState, settledFor, masterDown time.Duration) (HandoverMode, bool) {
	if len(instances) == 0 {
		return "", false
	}
	switch {
	case allEqual(instances, hacpv1.VRRPStateMaster):
		return HandoverKeep, true
	case notHolding(instances) && settledFor > masterDown:
		return HandoverRelease, true
	}
	return "", false
}

// notHolding reports whether every instance is BACKUP or FAULT: settled, and holding no VIP.
func notHolding(instances map[string]contract.VRRPState) bool {
	for _, s := range instances {
		if s != hacpv1.VRRPStateBackup && s != hacpv1.VRRPStateFault {
			return false
		}
	}
	return len(instances) > 0
}

// Handover runs on the DaemonSet's agent: it finds a bootstrap keepalived on this host and,
// once this agent's keepalived has settled, asks it to retire.
type Handover struct {
	// Socket is the bootstrap agent's abstract socket name.
	Socket string
	// Instances returns the agent's keepalived instance states (Supervisor.InstanceStates).
	Instances func() map[string]contract.VRRPState
	// MasterDown returns the master-down interval of the applied config.
	MasterDown func() time.Duration
	// OnRetired is called after the bootstrap keepalived retired (Supervisor.ExpectLeftoverVIPs
	// for HandoverKeep: its VIP entries stay until this agent's keepalived lets the VIPs go).
	OnRetired func(HandoverMode)
	Log       logr.Logger
	// Poll is how often the states are looked at (default 100ms).
	Poll time.Duration

	mu     sync.Mutex
	active bool
}

// Probe asks whether a bootstrap keepalived is active on this host. Call it before the agent
// starts keepalived: while one is, the VIPs on the interface are its, not stale.
func (h *Handover) Probe(ctx context.Context) bool {
	reply, err := askBootstrap(ctx, h.Socket, "status")
	active := err == nil && reply == handoverActive
	h.mu.Lock()
	h.active = active
	h.mu.Unlock()
	if active {
		h.Log.Info("A bootstrap keepalived runs on this node; it will hand the VIPs over once this agent's keepalived has settled", "socket", "@"+h.Socket)
	}
	return active
}

// Active reports whether a bootstrap keepalived is believed to hold VIPs on this host.
func (h *Handover) Active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active
}

// Run waits for the agent's keepalived to settle and retires the bootstrap one. It returns when
// that is done, when no bootstrap agent answers any more, or when ctx ends.
func (h *Handover) Run(ctx context.Context) {
	if !h.Active() {
		return
	}
	poll := h.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var settledSince time.Time
	lastProbe := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		states := h.Instances()
		now := time.Now()
		if notHolding(states) {
			if settledSince.IsZero() {
				settledSince = now
			}
		} else {
			settledSince = time.Time{}
		}
		var settledFor time.Duration
		if !settledSince.IsZero() {
			settledFor = now.Sub(settledSince)
		}
		mode, ok := DecideHandover(states, settledFor, h.MasterDown())
		if !ok {
			// The bootstrap agent may have gone (its manifest removed by hand): stop waiting.
			if now.Sub(lastProbe) > 10*time.Second {
				lastProbe = now
				if reply, err := askBootstrap(ctx, h.Socket, "status"); err != nil || reply != handoverActive {
					h.setInactive()
					h.Log.Info("The bootstrap keepalived is gone; nothing to hand over")
					return
				}
			}
			continue
		}
		reply, err := askBootstrap(ctx, h.Socket, "retire "+string(mode))
		if err != nil {
			h.Log.Error(err, "Asking the bootstrap keepalived to retire failed; retrying", "mode", mode)
			time.Sleep(time.Second)
			continue
		}
		if h.OnRetired != nil {
			h.OnRetired(mode)
		}
		h.setInactive()
		h.Log.Info("The bootstrap keepalived retired; this agent's keepalived holds the node's VRRP role alone", "mode", mode, "reply", reply)
		return
	}
}

func (h *Handover) setInactive() {
	h.mu.Lock()
	h.active = false
	h.mu.Unlock()
}

func allEqual(m map[string]contract.VRRPState, v contract.VRRPState) bool {
	for _, s := range m {
		if s != v {
			return false
		}
	}
	return true
}

// MasterDownOf returns the longest master-down interval of text's instances: three
// advertisement intervals plus the skew (at most one more).
func MasterDownOf(text []byte) time.Duration {
	root, err := keepalived.Parse(text)
	if err != nil {
		return 4 * time.Second
	}
	var longest time.Duration
	for _, in := range root.Children {
		if in.Keyword != "vrrp_instance" {
			continue
		}
		var secs float64
		if _, err := fmt.Sscanf(in.Arg("advert_int"), "%g", &secs); err == nil && secs > 0 {
			longest = max(longest, time.Duration(secs*float64(time.Second)))
		}
	}
	if longest == 0 {
		longest = time.Second // keepalived's default advert_int
	}
	return 4 * longest
}
