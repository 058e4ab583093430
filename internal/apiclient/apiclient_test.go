package apiclient

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// server answers /version with name, like an API server would with its own identity.
func server(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"` + name + `"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func version(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	return v.GitVersion
}

func TestLocalFirst(t *testing.T) {
	service := server(t, "through-the-service")
	local := server(t, "local")
	cfg := &rest.Config{Host: service.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}

	if got := version(t, LocalFirst(cfg, local.Listener.Addr().String(), time.Second)); got != "local" {
		t.Errorf("with the local API server up, the client reached %q", got)
	}

	// A closed port (the local API server is down): the Service answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if got := version(t, LocalFirst(cfg, closed, time.Second)); got != "through-the-service" {
		t.Errorf("with the local API server down, the client reached %q", got)
	}

	// A local address that never answers (a dialer that hangs) costs at most the timeout.
	hang := *cfg
	hang.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if address == "203.0.113.1:6443" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, address)
	}
	if got := version(t, LocalFirst(&hang, "203.0.113.1:6443", 200*time.Millisecond)); got != "through-the-service" {
		t.Errorf("with a silent local address, the client reached %q", got)
	}

	if LocalFirst(cfg, "", time.Second) != cfg {
		t.Error("an empty local address must leave the config alone")
	}
}
