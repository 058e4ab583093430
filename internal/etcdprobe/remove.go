package etcdprobe

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// MemberRemover removes an etcd member. Client is the real one.
type MemberRemover interface {
	RemoveMember(ctx context.Context, endpoints []string, tlsConfig *tls.Config, id string) error
}

// RemoveMember removes the member with the hex id (as Member.ID), like `etcdctl member remove`.
func (c Client) RemoveMember(ctx context.Context, endpoints []string, tlsConfig *tls.Config, id string) error {
	n, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return fmt.Errorf("member id %q: %w", id, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsConfig, DialTimeout: timeout, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	if _, err := cli.MemberRemove(rctx, n); err != nil {
		return fmt.Errorf("removing etcd member %s: %w", id, err)
	}
	return nil
}
