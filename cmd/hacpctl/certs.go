package main

import (
	"io"
	"time"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/statusprint"
)

func runCerts(args []string, stdout, stderr io.Writer) int {
	return runStatusCommand("certs", args, stdout, stderr, func(w io.Writer, hcp *hacpv1.HAControlPlane) {
		statusprint.Certificates(w, hcp, time.Now())
	})
}
