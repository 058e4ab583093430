package certexpiry

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"hacp.dev/hacp/test/pki"
)

func serve(t *testing.T, cn string, notAfter time.Time, requireClient bool) string {
	t.Helper()
	addr, stop, err := pki.ServeTLS(cn, notAfter, requireClient)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

func TestServed(t *testing.T) {
	until := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, requireClient := range []bool{false, true} {
		addr := serve(t, "kube-apiserver", until, requireClient)
		c, err := Served(context.Background(), addr, 2*time.Second)
		if err != nil {
			t.Fatalf("requireClient=%v: %v", requireClient, err)
		}
		if !c.NotAfter.Equal(until) || c.Subject.CommonName != "kube-apiserver" {
			t.Errorf("requireClient=%v: read %s until %s", requireClient, c.Subject, c.NotAfter)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if _, err := Served(context.Background(), closed, time.Second); err == nil {
		t.Error("a closed port gave a certificate")
	}
}

func TestReadAllAndEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	api := serve(t, "apiserver", now.Add(300*24*time.Hour), false)
	etcd := serve(t, "etcd", now.Add(10*24*time.Hour), true)
	obs := ReadAll(context.Background(), []Target{
		{Node: "h1", Component: APIServer, Address: api},
		{Node: "h1", Component: EtcdServer, Address: etcd},
		{Node: "h2", Component: Kubelet, Address: "127.0.0.1:1"},
	}, 2*time.Second)
	fs := Evaluate(now, 30*24*time.Hour, obs)
	if len(fs) != 3 {
		t.Fatalf("%d findings", len(fs))
	}
	if fs[0].Component != EtcdServer || fs[0].Severity != ExpiringSoon || !strings.Contains(fs[0].Message, "etcd-server on h1 expires on 2026-12-10") {
		t.Errorf("first finding %+v", fs[0])
	}
	if fs[1].Component != APIServer || fs[1].Severity != OK {
		t.Errorf("second finding %+v", fs[1])
	}
	if fs[2].Severity != Unreadable || fs[2].Node != "h2" {
		t.Errorf("last finding %+v", fs[2])
	}
	// An expiring certificate outranks one that could not be read.
	if Worst(fs) != ExpiringSoon {
		t.Errorf("worst %v", Worst(fs))
	}
	if e, ok := Earliest(fs); !ok || !e.Equal(now.Add(10*24*time.Hour)) {
		t.Errorf("earliest %s %v", e, ok)
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	later := now.Add(365 * day)
	tgt := Target{Node: "h1", Component: APIServer}
	for _, tc := range []struct {
		name string
		o    Observed
		want Severity
		msg  string
	}{
		{"valid", Observed{Target: tgt, NotAfter: now.Add(90 * day), Certified: true}, OK, "valid until 2027-02-28"},
		{"at the threshold", Observed{Target: tgt, NotAfter: now.Add(30 * day), Certified: true}, ExpiringSoon, "in 30d"},
		{"within a day", Observed{Target: tgt, NotAfter: now.Add(5 * time.Hour), Certified: true}, ExpiringSoon, "in 5h0m0s"},
		{"expired", Observed{Target: tgt, NotAfter: now.Add(-time.Hour), Certified: true}, Expired, "expired on 2026-11-29T23:00:00Z"},
		{"expires now", Observed{Target: tgt, NotAfter: now, Certified: true}, Expired, "expired"},
		{"renewed, not served", Observed{Target: tgt, NotAfter: now.Add(90 * day), OnDisk: &later, Certified: true}, RenewedNotServed, "restart the static Pod"},
		{"expired, renewed on disk", Observed{Target: tgt, NotAfter: now.Add(-day), OnDisk: &later, Certified: true}, Expired, "renewed on disk until 2027-11-30T00:00:00Z: restart the static Pod"},
		{"unreadable", Observed{Target: tgt, Err: errors.New("connection refused")}, Unreadable, "not read: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := Evaluate(now, 30*day, []Observed{tc.o})
			if fs[0].Severity != tc.want || !strings.Contains(fs[0].Message, tc.msg) {
				t.Errorf("got %v %q, want %v containing %q", fs[0].Severity, fs[0].Message, tc.want, tc.msg)
			}
		})
	}
}

func TestNodeTargets(t *testing.T) {
	ts := NodeTargets("h1", "198.51.100.11")
	want := map[Component]string{APIServer: "198.51.100.11:6443", EtcdServer: "198.51.100.11:2379", EtcdPeer: "198.51.100.11:2380", Kubelet: "198.51.100.11:10250"}
	if len(ts) != len(want) {
		t.Fatalf("%d targets", len(ts))
	}
	for _, tg := range ts {
		if want[tg.Component] != tg.Address || tg.Node != "h1" {
			t.Errorf("%+v", tg)
		}
	}
	if ts := NodeTargets("h1", "2001:db8::1"); ts[0].Address != "[2001:db8::1]:6443" {
		t.Errorf("IPv6 address %s", ts[0].Address)
	}
}
