package agent

import (
	"context"
	"fmt"
	"net"
	"time"
)

// The node-local standby.
//
// keepalived runs in the VIPGroup's DaemonSet, which needs the API server to start: after a cold
// boot (every control-plane node powered off at once) nothing would bring the VIP back, and the
// API servers that kubelet and kube-proxy reach through it would wait for it. So the DaemonSet's
// agent keeps two things on each node's disk: the last config that passed `keepalived
// --config-test` (root-only, written atomically) and a static Pod, the standby, that runs
// `hacp-agent standby` from it. While the DaemonSet's agent runs on the node, it listens on an
// abstract unix socket (ActiveSocket) and the standby stays idle; when it stops answering (cold
// boot, agent crashed or deleted, VIPGroup deleted, hacp removed), the standby runs keepalived
// from the last good config, as the VRRP member this node was. When the DaemonSet's agent starts
// again it takes the VIPs over from the standby with the bootstrap handover (StandbySocket), and
// the standby goes back to idle.

// ListenActive binds the agent's ActiveSocket. The kernel removes an abstract socket with its
// last descriptor, so the standby sees a killed agent at once.
func ListenActive(socket string) (net.Listener, error) {
	l, err := net.Listen("unix", "@"+socket)
	if err != nil {
		return nil, fmt.Errorf("listening on @%s (does another agent of this VIPGroup run on this host?): %w", socket, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return l, nil
}

// AgentActive reports whether an hacp agent (root, hacp-agent) listens on socket.
func AgentActive(ctx context.Context, socket string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", "@"+socket)
	if err != nil {
		return false
	}
	defer func() { _ = conn.Close() }()
	return checkPeer(conn) == nil
}
