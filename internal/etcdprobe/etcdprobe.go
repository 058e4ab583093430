// Package etcdprobe reads an etcd cluster's membership and health for the quorum analysis: the
// member list (learners included), each member's status, and alarms. It is the only place hacp
// talks to etcd.
package etcdprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Member is one etcd member as seen now.
type Member struct {
	ID         string // hex, as etcdctl prints it
	Name       string // kubeadm names members after their node; empty for an unstarted member
	PeerURLs   []string
	ClientURLs []string
	Learner    bool
	// Healthy: it answers and has a leader, so it is part of a working quorum.
	Healthy bool
	// Reachable: it answers, with or without a leader (a member cut off from its peers answers
	// but is not healthy). A member that does not answer is neither.
	Reachable bool
	Leader    bool
	Error     string
}

// Cluster is a snapshot of the cluster.
type Cluster struct {
	Members []Member
	Alarms  []string
}

// Prober reads a Cluster. Tests and the reconciler use the interface; Client is the real one.
type Prober interface {
	Probe(ctx context.Context, endpoints []string, tlsConfig *tls.Config) (*Cluster, error)
}

// Client probes etcd with go.etcd.io/etcd/client/v3.
type Client struct {
	// Timeout bounds each call; a dead member must not stall a reconcile.
	Timeout time.Duration
}

// TLSConfig builds a client TLS config from PEM bytes (kubeadm's apiserver-etcd-client pair and
// the etcd CA).
func TLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("ca.crt holds no PEM certificate")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls.crt/tls.key: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Probe lists members and checks each one. The member list is read serializably, so it is
// answered by any live member, also one that has lost quorum.
func (c Client) Probe(ctx context.Context, endpoints []string, tlsConfig *tls.Config) (*Cluster, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsConfig,
		DialTimeout: timeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, err
	}
	defer cli.Close()

	lctx, cancel := context.WithTimeout(ctx, timeout)
	list, err := cli.MemberList(lctx, clientv3.WithSerializable())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("listing etcd members via %s: %w", strings.Join(endpoints, ","), err)
	}
	out := &Cluster{}
	type result struct {
		i int
		m Member
	}
	results := make(chan result, len(list.Members))
	for i, pm := range list.Members {
		go func() {
			m := Member{ID: fmt.Sprintf("%x", pm.ID), Name: pm.Name, PeerURLs: pm.PeerURLs, ClientURLs: pm.ClientURLs, Learner: pm.IsLearner}
			if len(pm.ClientURLs) == 0 {
				m.Error = "member has not started (no client URLs)"
				results <- result{i, m}
				return
			}
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			st, err := cli.Status(sctx, pm.ClientURLs[0])
			noLeader := rpctypes.ErrNoLeader.Error()
			// A member that answers but has no leader is cut off from a quorum of its peers (or
			// the cluster lost quorum): it serves nothing, so it is not healthy. Counting it would
			// overstate tolerance: five members with two cut off read as tolerance 2; it is 0.
			const leaderless = "no leader: cut off from a quorum of its peers, or the cluster has lost quorum"
			switch {
			case err != nil && strings.Contains(err.Error(), noLeader):
				m.Reachable, m.Error = true, leaderless
			case err != nil:
				m.Error = err.Error()
			case len(st.Errors) == 1 && strings.Contains(st.Errors[0], noLeader):
				m.Reachable, m.Error = true, leaderless
			case len(st.Errors) > 0:
				m.Reachable, m.Error = true, strings.Join(st.Errors, "; ")
			case st.Leader == 0:
				m.Reachable, m.Error = true, leaderless
			default:
				m.Healthy, m.Reachable = true, true
				m.Leader = st.Leader == pm.ID
			}
			results <- result{i, m}
		}()
	}
	out.Members = make([]Member, len(list.Members))
	for range list.Members {
		r := <-results
		out.Members[r.i] = r.m
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	alarms, err := cli.AlarmList(actx)
	cancel()
	if err == nil {
		for _, a := range alarms.Alarms {
			out.Alarms = append(out.Alarms, fmt.Sprintf("%s on member %x", a.Alarm, a.MemberID))
		}
	}
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].ID < out.Members[j].ID })
	return out, nil
}

// DisplayName is the member's name, or, for a member that never started, a name from its peer URL.
func (m Member) DisplayName() string {
	if m.Name != "" {
		return m.Name
	}
	for _, p := range m.PeerURLs {
		if u, err := url.Parse(p); err == nil && u.Hostname() != "" {
			return "unstarted-" + u.Hostname()
		}
	}
	return "unstarted-" + m.ID
}
