// Package check holds the two checks that run as their own process many times a minute on every
// node: keepalived's health check script (the API server's readiness) and the agent container's
// readiness probe (keepalived runs its current config). They are hacp-check's commands, a binary
// kept small on purpose: a process start of hacp-agent, whose Kubernetes libraries initialize
// before main, cost 40-90 ms of CPU, and three nodes start one almost twice a second each (the
// kubeadm lab measured hacp's agents at 0.42 cores of a 2-core machine at idle). This package
// must import nothing beyond the standard library; TestImportsStayLight checks the binary.
package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ReadyFile is where the agent's supervisor records, in its run folder, that keepalived runs the
// latest config it was given (with that config's hash): the readiness probe reads it, so a rolling
// update of the DaemonSet waits until each node's keepalived runs its current config.
const ReadyFile = "keepalived.ready"

// Main runs one check command (check-apiserver or ready) with its flags and returns the exit
// code: 0 passed, 1 failed (why goes to stderr), 2 usage. hacp-check and hacp-agent both call it.
func Main(command string, args []string, stderr io.Writer) int {
	switch command {
	case "check-apiserver":
		return apiserverCommand(args, stderr)
	case "ready":
		return readyCommand(args, stderr)
	}
	fmt.Fprintf(stderr, "unknown check %q (check-apiserver, ready)\n", command)
	return 2
}

func apiserverCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-apiserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "API server address")
	port := fs.Int("port", 6443, "API server port")
	path := fs.String("path", "/readyz", "readiness path")
	timeout := fs.Duration("timeout", 800*time.Millisecond, "timeout of one check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := APIServer(context.Background(), *host, *port, *path, *timeout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func readyCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ready", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the agent's private folder (hacp-agent run --dir; contract.RunDir in hacp's Pods)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "--dir is required")
		return 2
	}
	if err := Ready(*dir); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// APIServer GETs https://host:port/path and succeeds only on 200. A listening but unready API
// server (one that lost etcd quorum answers 500 on /readyz) fails, unlike the seed's bare TCP
// connect. The certificate is not verified: the check only reads readiness from the node's own
// loopback, and must work before any kubeconfig exists.
func APIServer(ctx context.Context, host string, port int, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback readiness probe, see above
		DisableKeepAlives: true,
		Proxy:             nil,
	}}
	url := "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// Ready is the readiness probe: nil when the supervisor using dir runs its latest config.
func Ready(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, ReadyFile))
	if err != nil {
		return fmt.Errorf("keepalived does not run the current config (yet): %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("keepalived does not run the current config (yet)")
	}
	return nil
}
