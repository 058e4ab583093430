package etcdprobe

import (
	"context"
	"testing"
	"time"

	"hacp.dev/hacp/test/etcdcluster"
)

func TestProbeRealCluster(t *testing.T) {
	c := etcdcluster.Start(t, "m1", "m2", "m3")
	tlsCfg, err := TLSConfig(c.CA, c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	p := Client{Timeout: 2 * time.Second}
	ctx := context.Background()
	healthy := func() (int, *Cluster) {
		cl, err := p.Probe(ctx, c.Endpoints(), tlsCfg)
		if err != nil {
			t.Logf("probe: %v", err)
			return -1, nil
		}
		n := 0
		for _, m := range cl.Members {
			if m.Healthy {
				n++
			}
		}
		return n, cl
	}
	wait := func(want int) *Cluster {
		t.Helper()
		var cl *Cluster
		var n int
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if n, cl = healthy(); n == want {
				return cl
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("want %d healthy members, last saw %d: %+v", want, n, cl)
		return nil
	}
	cl := wait(3)
	leaders := 0
	for _, m := range cl.Members {
		if m.Leader {
			leaders++
		}
		if m.Name == "" || m.ID == "" || len(m.ClientURLs) == 0 {
			t.Errorf("incomplete member %+v", m)
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders", leaders)
	}
	c.Kill(c.Members[2])
	wait(2)
	c.Kill(c.Members[1])
	wait(1)
	// Once its election timeout passes, the survivor answers "no leader": still one live member.
	time.Sleep(3 * time.Second)
	cl = wait(1)
	for _, m := range cl.Members {
		if m.Healthy && m.Name == "m1" && m.Error == "" {
			t.Logf("survivor still reports a leader: %+v", m)
		}
	}
	c.StartMember(c.Members[1])
	c.StartMember(c.Members[2])
	wait(3)
}
