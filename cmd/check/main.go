// hacp-check runs the checks that start a process many times a minute on every node, small and
// quick to start (see internal/check): `hacp-check check-apiserver` is keepalived's health check
// script, `hacp-check ready` the agent container's readiness probe.
package main

import (
	"fmt"
	"os"

	"hacp.dev/hacp/internal/check"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hacp-check check-apiserver|ready [flags]")
		os.Exit(2)
	}
	os.Exit(check.Main(os.Args[1], os.Args[2:], os.Stderr))
}
