package etcdprobe

import (
	"context"
	"sort"
	"strings"
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
	// Once its election timeout passes, the survivor answers "no leader": it serves nothing, so it
	// is not healthy.
	cl = wait(0)
	for _, m := range cl.Members {
		if m.Name == "m1" && (!strings.Contains(m.Error, "no leader") || !m.Reachable) {
			t.Errorf("the leaderless survivor: %+v", m)
		}
		if m.Name != "m1" && m.Reachable {
			t.Errorf("a killed member is reachable: %+v", m)
		}
	}
	c.StartMember(c.Members[1])
	c.StartMember(c.Members[2])
	wait(3)
}

// Five members, two cut off from their peers but still answering clients: three are healthy, and
// tolerance is 0 (3 healthy, quorum 3), not 2.
func TestProbeCountsPartitionedMembersOut(t *testing.T) {
	c := etcdcluster.StartPartitionable(t, "m1", "m2", "m3", "m4", "m5")
	tlsCfg, err := TLSConfig(c.CA, c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	p := Client{Timeout: 2 * time.Second}
	probe := func() (healthy []string, cl *Cluster) {
		cl, err := p.Probe(context.Background(), c.Endpoints(), tlsCfg)
		if err != nil {
			return nil, nil
		}
		for _, m := range cl.Members {
			if m.Healthy {
				healthy = append(healthy, m.Name)
			}
		}
		sort.Strings(healthy)
		return healthy, cl
	}
	waitFor := func(what string, ok func([]string, *Cluster) bool) *Cluster {
		t.Helper()
		var h []string
		var cl *Cluster
		// A bound on a loaded machine, not a figure: under make test's -race, five etcd
		// processes start beside the other packages' tests on two cores, and one took more
		// than 30 s to join once.
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if h, cl = probe(); cl != nil && ok(h, cl) {
				return cl
			}
		}
		t.Fatalf("timed out waiting for %s: healthy %v, %+v", what, h, cl)
		return nil
	}
	waitFor("5 healthy", func(h []string, _ *Cluster) bool { return len(h) == 5 })

	heal4 := c.Partition(c.Members[3])
	heal5 := c.Partition(c.Members[4])
	cl := waitFor("m4 and m5 counted out", func(h []string, _ *Cluster) bool {
		return strings.Join(h, ",") == "m1,m2,m3"
	})
	for _, m := range cl.Members {
		if (m.Name == "m4" || m.Name == "m5") && (!strings.Contains(m.Error, "no leader") || !m.Reachable) {
			t.Errorf("%s: %+v, want a reachable member with a no-leader error", m.Name, m)
		}
	}
	voters, healthy := 0, 0
	for _, m := range cl.Members {
		if !m.Learner {
			voters++
			if m.Healthy {
				healthy++
			}
		}
	}
	if tolerance := healthy - (voters/2 + 1); tolerance != 0 {
		t.Fatalf("tolerance %d with two of five members cut off, want 0", tolerance)
	}

	heal4()
	heal5()
	waitFor("5 healthy again", func(h []string, _ *Cluster) bool { return len(h) == 5 })
}
