// Package certexpiry finds the control plane's certificates that are about to expire, from what
// each server actually serves: a TLS handshake with no client certificate and no private key gives
// the leaf the server presents, which is what clients will reject once it expires, whatever the
// file on disk says (a certificate renewed on disk is served only after its static Pod restarts).
package certexpiry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"time"
)

// Component names a served certificate.
type Component string

// The certificates hacp reads on every control-plane node, and the cluster-wide CAs.
const (
	APIServer  Component = "kube-apiserver"
	EtcdServer Component = "etcd-server"
	EtcdPeer   Component = "etcd-peer"
	Kubelet    Component = "kubelet"
	ClusterCA  Component = "cluster-ca"
	FrontProxy Component = "front-proxy-ca"
)

// Ports are kubeadm's ports for the served certificates.
var Ports = map[Component]int{APIServer: 6443, EtcdServer: 2379, EtcdPeer: 2380, Kubelet: 10250}

// Target is one server to read a certificate from.
type Target struct {
	Node      string
	Component Component
	Address   string // host:port
}

// NodeTargets lists the served certificates of a control-plane node at address.
func NodeTargets(node, address string) []Target {
	var ts []Target
	for _, c := range []Component{APIServer, EtcdServer, EtcdPeer, Kubelet} {
		ts = append(ts, Target{Node: node, Component: c, Address: net.JoinHostPort(address, strconv.Itoa(Ports[c]))})
	}
	return ts
}

// Observed is what was learned about one certificate.
type Observed struct {
	Target
	Subject   string
	NotAfter  time.Time
	Err       error
	OnDisk    *time.Time // NotAfter of the same certificate's file, where hacp can read it
	Certified bool       // a certificate was read (NotAfter is meaningful)
}

// Served reads the leaf certificate a TLS server presents. The handshake is not verified (hacp
// wants the date, and etcd and the kubelet may use CAs hacp does not hold); a server that then
// demands a client certificate has already sent its own, which is all this needs.
func Served(ctx context.Context, address string, timeout time.Duration) (*x509.Certificate, error) {
	var leaf *x509.Certificate
	cfg := &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only the presented certificate's dates are read
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate presented")
			}
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			leaf = c
			return nil
		},
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{}}
	conn, err := d.DialContext(ctx, "tcp", address)
	if conn != nil {
		conn.Close()
	}
	if leaf != nil {
		return leaf, nil
	}
	if err == nil {
		err = errors.New("no certificate presented")
	}
	return nil, err
}

// ReadAll reads every target's served certificate, a few at a time.
func ReadAll(ctx context.Context, targets []Target, timeout time.Duration) []Observed {
	out := make([]Observed, len(targets))
	sem := make(chan struct{}, 8)
	done := make(chan struct{})
	for i, t := range targets {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem; done <- struct{}{} }()
			o := Observed{Target: t}
			c, err := Served(ctx, t.Address, timeout)
			if err != nil {
				o.Err = err
			} else {
				o.Subject, o.NotAfter, o.Certified = c.Subject.String(), c.NotAfter.UTC(), true
			}
			out[i] = o
		}()
	}
	for range targets {
		<-done
	}
	return out
}

// FromCertificate records a certificate hacp holds (a CA from cluster-info).
func FromCertificate(node string, comp Component, c *x509.Certificate) Observed {
	return Observed{Target: Target{Node: node, Component: comp}, Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(), Certified: true}
}

// Severity orders findings.
type Severity int

// Severities, mildest first.
const (
	OK Severity = iota
	Unreadable
	RenewedNotServed
	ExpiringSoon
	Expired
)

// Finding is the verdict on one certificate.
type Finding struct {
	Observed
	Severity Severity
	Message  string
}

// Evaluate judges each observation at now: expired, expiring within warnBefore, renewed on disk but
// still served old, unreadable, or fine. Findings come sorted by expiry, soonest first (unreadable
// ones last).
func Evaluate(now time.Time, warnBefore time.Duration, obs []Observed) []Finding {
	fs := make([]Finding, 0, len(obs))
	for _, o := range obs {
		f := Finding{Observed: o}
		switch {
		case !o.Certified:
			f.Severity = Unreadable
			f.Message = fmt.Sprintf("%s on %s: not read: %v", o.Component, o.Node, o.Err)
		case !now.Before(o.NotAfter):
			f.Severity = Expired
			f.Message = fmt.Sprintf("%s on %s expired on %s", o.Component, o.Node, o.NotAfter.Format(time.RFC3339))
		case o.NotAfter.Sub(now) <= warnBefore:
			f.Severity = ExpiringSoon
			f.Message = fmt.Sprintf("%s on %s expires on %s (in %s)", o.Component, o.Node, o.NotAfter.Format(time.RFC3339), days(o.NotAfter.Sub(now)))
		case o.OnDisk != nil && o.OnDisk.After(o.NotAfter):
			f.Severity = RenewedNotServed
			f.Message = fmt.Sprintf("%s on %s: renewed on disk (until %s) but the old certificate (until %s) is still served: restart the static Pod",
				o.Component, o.Node, o.OnDisk.Format(time.RFC3339), o.NotAfter.Format(time.RFC3339))
		default:
			f.Message = fmt.Sprintf("%s on %s valid until %s", o.Component, o.Node, o.NotAfter.Format(time.RFC3339))
		}
		// An expiring certificate that is already renewed on disk needs only the restart.
		if (f.Severity == ExpiringSoon || f.Severity == Expired) && o.OnDisk != nil && o.OnDisk.After(o.NotAfter) {
			f.Message += fmt.Sprintf("; renewed on disk until %s: restart the static Pod", o.OnDisk.Format(time.RFC3339))
		}
		fs = append(fs, f)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Certified != b.Certified {
			return a.Certified
		}
		if !a.NotAfter.Equal(b.NotAfter) {
			return a.NotAfter.Before(b.NotAfter)
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Component < b.Component
	})
	return fs
}

// Worst returns the most severe finding's severity.
func Worst(fs []Finding) Severity {
	w := OK
	for _, f := range fs {
		if f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

// Earliest returns the soonest NotAfter among the readable certificates.
func Earliest(fs []Finding) (time.Time, bool) {
	for _, f := range fs {
		if f.Certified {
			return f.NotAfter, true
		}
	}
	return time.Time{}, false
}

func days(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%.0fd", math.Round(d.Hours()/24))
}

// ReadVia returns a reader like ReadAll that handshakes with addressOf(target) instead of the
// target's own address, and reports a target without one as unreadable. Tests and the demo use it:
// their Nodes' addresses are not on this machine, so they serve the certificates on loopback.
func ReadVia(addressOf func(Target) (string, bool)) func(context.Context, []Target, time.Duration) []Observed {
	return func(ctx context.Context, targets []Target, timeout time.Duration) []Observed {
		out := make([]Observed, len(targets))
		for i, t := range targets {
			addr, ok := addressOf(t)
			if !ok {
				out[i] = Observed{Target: t, Err: errors.New("connection refused")}
				continue
			}
			local := t
			local.Address = addr
			out[i] = ReadAll(ctx, []Target{local}, timeout)[0]
			out[i].Target = t
		}
		return out
	}
}
