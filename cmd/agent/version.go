package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"hacp.dev/hacp/internal/version"
)

// printVersion prints hacp's version and the keepalived this agent runs, one per line, so that an
// image says what it contains: `hacp-agent version`.
func printVersion(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	binary := fs.String("keepalived", "/usr/sbin/keepalived", "keepalived binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "hacp %s\nkeepalived: %s\n", version.Version, version.Keepalived(context.Background(), *binary))
	return err
}
