// Package apiclient makes hacp's API clients independent of kube-proxy. In a Pod, client-go reaches
// the API server through the `kubernetes` Service IP, which kube-proxy programs; kube-proxy itself
// reaches the API through the control-plane endpoint, which is hacp's VIP. After a cold boot that
// loop never closes: no VIP, so no kube-proxy rules, so no agent, so no VIP. hacp's agents run on
// control-plane nodes (host network) and its manager is scheduled there, so both dial the node's
// own API server first and the Service only when it does not answer.
package apiclient

import (
	"context"
	"net"
	"time"

	"k8s.io/client-go/rest"
)

// LocalFirst returns a copy of cfg whose connections to cfg's own address go to local
// (host:port, the node's API server) first; when local refuses or does not answer within
// timeout, they go where cfg says. TLS is unchanged: kubeadm's API server certificate names the
// Service IP, so the local server passes the same verification. An empty local returns cfg as is.
func LocalFirst(cfg *rest.Config, local string, timeout time.Duration) *rest.Config {
	if local == "" {
		return cfg
	}
	out := rest.CopyConfig(cfg)
	next := cfg.Dial
	if next == nil {
		next = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	out.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := next(dctx, network, local)
		cancel()
		if err == nil {
			return conn, nil
		}
		return next(ctx, network, address)
	}
	return out
}
