package main

import (
	"flag"
	"fmt"
	"io"

	"hacp.dev/hacp/internal/agent"
	"hacp.dev/hacp/internal/contract"
)

// ready is the agent container's readiness probe: it passes only while this Pod's keepalived
// runs the latest config the agent was given, so a rolling update of the DaemonSet moves to the
// next node only once this one runs its current config.
func ready(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ready", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", contract.RunDir, "the agent's private directory (run --dir)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := agent.CheckReady(*dir); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
