package controllers

import (
	"context"
	"testing"
	"time"

	"hacp.dev/hacp/internal/certexpiry"
)

// TestCertificateCacheRechecksWarningsSooner: a certificate within the warning window (or one that
// could not be read) is read again after urgentPeriod, so that a renewal and a static Pod restart
// clear the warning within a minute; a healthy one waits the full period.
func TestCertificateCacheRechecksWarningsSooner(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ok := certexpiry.Target{Node: "h1", Component: certexpiry.APIServer, Address: "198.51.100.11:6443"}
	soon := certexpiry.Target{Node: "h2", Component: certexpiry.APIServer, Address: "198.51.100.12:6443"}
	reads := map[certexpiry.Target]int{}
	c := &certificateCache{period: 10 * time.Minute, urgentPeriod: time.Minute,
		read: func(_ context.Context, targets []certexpiry.Target, _ time.Duration) []certexpiry.Observed {
			var out []certexpiry.Observed
			for _, tg := range targets {
				reads[tg]++
				na := t0.Add(365 * 24 * time.Hour)
				if tg == soon {
					na = t0.Add(2 * time.Hour)
				}
				out = append(out, certexpiry.Observed{Target: tg, NotAfter: na, Certified: true})
			}
			return out
		}}
	warn := 30 * 24 * time.Hour
	for _, at := range []time.Duration{0, 30 * time.Second, 61 * time.Second, 2*time.Minute + 2*time.Second, 10*time.Minute + time.Second} {
		c.get(context.Background(), t0.Add(at), warn, []certexpiry.Target{ok, soon})
	}
	if reads[ok] != 2 || reads[soon] != 4 {
		t.Errorf("reads: healthy %d (want 2: at 0 and after 10 min), expiring %d (want 4: at 0, 61 s, 2 min, 10 min)", reads[ok], reads[soon])
	}
}
