package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// CheckAPIServer GETs https://host:port/path and succeeds only on 200. A listening but unready
// API server (one that lost etcd quorum answers 500 on /readyz) fails, unlike the seed's bare TCP
// connect. The certificate is not verified: the check only reads readiness from the node's own
// loopback, and must work before any kubeconfig exists.
func CheckAPIServer(ctx context.Context, host string, port int, path string, timeout time.Duration) error {
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
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}
