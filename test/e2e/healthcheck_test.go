package e2e

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// TestDefaultHealthCheck runs the health check as the CRD defaults it (every second, 800 ms,
// fall 3, rise 2) with real keepalived. On the real kubeadm lab, with fall 2, a healthy holder
// whose /readyz missed the timeout twice in a row while a peer booted gave the VIP away and cut
// every client a second time. So: a holder whose API server is unready for under two seconds (two
// failed checks at most) keeps the VIP, without a sample elsewhere; one that stays unready still
// loses it within three checks and a master-down interval.
func TestDefaultHealthCheck(t *testing.T) {
	e := NewEnv(t)
	vg := vipGroupFor(DefaultProfile, hacpv1.HealthCheckQuorumAware)
	vg.Spec.HealthCheck = hacpv1.HealthCheck{Mode: hacpv1.HealthCheckQuorumAware} // the rest from the CRD's defaults
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, vg); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(vg), vg); err != nil {
		t.Fatal(err)
	}
	if hc := vg.Spec.HealthCheck; hc.IntervalSeconds != 1 || hc.TimeoutMilliseconds != 800 || hc.Fall != 3 || hc.Rise != 2 {
		t.Fatalf("the API server defaulted the health check to %+v, want interval 1, timeout 800, fall 3, rise 2", hc)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		e.StartAgent(h)
	}
	e.WaitHolder("h1", 60*time.Second)
	time.Sleep(3 * time.Second) // rise: h2 and h3 count as healthy, so a FAULT on h1 would move the VIP

	t.Run("two failed checks in a row: h1 keeps the VIP", func(t *testing.T) {
		s := e.Sample(50 * time.Millisecond)
		e.Hosts["h1"].SetReady(t, false)
		time.Sleep(1600 * time.Millisecond) // checks run every second: at most two see it
		e.Hosts["h1"].SetReady(t, true)
		// Past the master-down interval, so a FAULT would have shown as h2 holding the VIP.
		time.Sleep(DefaultProfile.MasterDown() + 2*time.Second)
		samples := s.Stop()
		moved := 0
		for _, smp := range samples {
			if len(smp.Holders) != 1 || smp.Holders[0] != "h1" {
				moved++
			}
		}
		if moved > 0 {
			t.Errorf("%d of %d samples without h1 alone holding the VIP after two failed checks: fall is not 3", moved, len(samples))
		}
	})

	t.Run("unready for good: the VIP moves within three checks and a master-down interval", func(t *testing.T) {
		start := time.Now()
		e.Hosts["h1"].SetReady(t, false)
		e.WaitHolder("h2", 3*time.Second+DefaultProfile.MasterDown()+5*time.Second)
		t.Logf("h2 holds the VIP %s after h1's API server turned unready", time.Since(start).Round(10*time.Millisecond))
		e.Hosts["h1"].SetReady(t, true)
	})
}
