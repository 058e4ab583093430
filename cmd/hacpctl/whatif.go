package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/manifest"
)

func runWhatIf(args []string, stdout, stderr io.Writer) int {
	return runStatusCommand("whatif", args, stdout, stderr, printWhatIf)
}

// runStatusCommand runs a command that prints part of an HAControlPlane's status (whatif, certs):
// [NAME] [-n NAMESPACE] from the cluster, or -f FILE from a saved status when the API is down.
func runStatusCommand(cmd string, args []string, stdout, stderr io.Writer, print func(io.Writer, *hacpv1.HAControlPlane)) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "read the HAControlPlane (with its status) from this YAML file instead of the cluster; works when the API is down")
	namespace := fs.String("n", "kube-system", "namespace of the HAControlPlane")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hacpctl %[1]s [NAME] [-n NAMESPACE] | hacpctl %[1]s -f FILE\n", cmd)
		fs.PrintDefaults()
	}
	name, done, code := parseNamed(fs, args)
	if done {
		return code
	}
	hcp, err := loadHAControlPlane(*file, *namespace, *kubeconfig, name)
	if err != nil {
		fmt.Fprintf(stderr, "hacpctl %s: %v\n", cmd, err)
		return exitUsage
	}
	print(stdout, hcp)
	return 0
}

// loadHAControlPlane reads an HAControlPlane from a saved YAML file (file), or from the cluster:
// the one named, or the only one in namespace.
func loadHAControlPlane(file, namespace, kubeconfig, name string) (*hacpv1.HAControlPlane, error) {
	var hcp hacpv1.HAControlPlane
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		objs, err := manifest.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		found, err := manifest.Into(objs, "HAControlPlane", &hcp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if !found {
			return nil, fmt.Errorf("%s: no HAControlPlane", file)
		}
		return &hcp, nil
	}
	c, err := newClient(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w (if the API is down, use -f with a saved status)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if name == "" {
		var list hacpv1.HAControlPlaneList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return nil, fmt.Errorf("listing HAControlPlanes in %s: %w (if the API is down, use -f with a saved status)", namespace, err)
		}
		if len(list.Items) != 1 {
			return nil, fmt.Errorf("%d HAControlPlanes in %s: name one", len(list.Items), namespace)
		}
		return &list.Items[0], nil
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &hcp); err != nil {
		return nil, fmt.Errorf("%w (if the API is down, use -f with a saved status)", err)
	}
	return &hcp, nil
}

func newClient(kubeconfig string) (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	scheme := hacpSchemeForCLI()
	return client.New(cfg, client.Options{Scheme: scheme})
}

func printWhatIf(w io.Writer, hcp *hacpv1.HAControlPlane) {
	st := hcp.Status
	fmt.Fprintf(w, "HAControlPlane %s/%s, endpoint %s\n", hcp.Namespace, hcp.Name, hcp.Spec.ControlPlaneEndpoint)
	if st.ObservedGeneration != hcp.Generation && hcp.Generation != 0 {
		fmt.Fprintf(w, "note: the status describes generation %d, the spec is at %d\n", st.ObservedGeneration, hcp.Generation)
	}
	if q := st.Quorum; q != nil {
		tolerance := fmt.Sprintf("failure tolerance %d", q.FailureTolerance)
		if q.FailureTolerance < 0 {
			tolerance = "quorum LOST"
		}
		fmt.Fprintf(w, "etcd: %d of %d voters healthy, quorum %d, %s\n", q.Healthy, q.Voters, q.Quorum, tolerance)
	}
	for _, c := range st.Conditions {
		fmt.Fprintf(w, "%s=%s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tADDRESS\tNODE\tAPISERVER\tETCD\tVIP\tPROBLEM")
	yn := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	for _, m := range st.Members {
		etcd := "-"
		if m.EtcdMember || m.EtcdMemberID != "" || m.EtcdHealthy {
			etcd = yn(m.EtcdHealthy, "healthy", "unhealthy")
			if m.Learner {
				etcd += " (learner)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Address, yn(m.NodeReady, "Ready", "NotReady"),
			yn(m.APIServerReady, "ready", "not ready"), etcd, yn(m.VIPEligible, "eligible", "-"), m.Problem)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IF THESE FAIL\tOUTCOME\tWHAT HAPPENS")
	for _, r := range st.WhatIf {
		out := "survives"
		if !r.Survives {
			bs := make([]string, len(r.Breaks))
			for i, b := range r.Breaks {
				bs[i] = string(b)
			}
			out = "breaks " + strings.Join(bs, ",")
		}
		msg := r.Message
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.Join(r.Failed, "+"), out, msg)
	}
	tw.Flush()
}
