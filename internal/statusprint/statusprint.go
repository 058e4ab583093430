// Package statusprint prints parts of hacp's status for people: hacpctl and the demo share it.
package statusprint

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// Certificates prints the control plane's certificates as served, soonest expiry first.
func Certificates(w io.Writer, hcp *hacpv1.HAControlPlane, now time.Time) {
	st := hcp.Status
	fmt.Fprintf(w, "HAControlPlane %s/%s\n", hcp.Namespace, hcp.Name)
	if c := meta.FindStatusCondition(st.Conditions, hacpv1.ConditionCertificatesValid); c != nil {
		fmt.Fprintf(w, "%s=%s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
	} else {
		fmt.Fprintln(w, "no certificate status yet")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCOMPONENT\tEXPIRES\tIN\tSTATE")
	for _, c := range st.Certificates {
		node, expires, in := c.Node, "-", "-"
		if node == "" {
			node = "(cluster)"
		}
		if c.NotAfter != nil {
			expires = c.NotAfter.UTC().Format(time.RFC3339)
			left := c.NotAfter.Sub(now)
			switch {
			case left <= 0:
				in = "expired"
			case left < 48*time.Hour:
				in = left.Round(time.Minute).String()
			default:
				in = fmt.Sprintf("%.0fd", math.Round(left.Hours()/24))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", node, c.Component, expires, in, c.Severity)
	}
	tw.Flush()
}
