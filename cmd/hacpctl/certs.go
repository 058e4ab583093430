package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"hacp.dev/hacp/internal/statusprint"
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
	statusprint.Certificates(stdout, hcp, time.Now())
	return 0
}
