package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func runCerts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "read the HAControlPlane (with its status) from this YAML file instead of the cluster; works when the API is down")
	namespace := fs.String("n", "kube-system", "namespace of the HAControlPlane")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hacpctl certs [NAME] [-n NAMESPACE] | hacpctl certs -f FILE")
		fs.PrintDefaults()
	}
	name, done, code := parseNamed(fs, args)
	if done {
		return code
	}
	hcp, err := loadHAControlPlane(*file, *namespace, *kubeconfig, name)
	if err != nil {
		fmt.Fprintf(stderr, "hacpctl certs: %v\n", err)
		return exitUsage
	}
	printCerts(stdout, hcp, time.Now())
	return 0
}

// printCerts prints the control plane's certificates as served, soonest expiry first.
func printCerts(w io.Writer, hcp *hacpv1.HAControlPlane, now time.Time) {
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
				in = fmt.Sprintf("%dd", int(left.Hours()/24))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", node, c.Component, expires, in, c.Severity)
	}
	tw.Flush()
}
