// Command standin is a stand-in for a node's kube-apiserver in tests: it serves /readyz over
// HTTPS and answers 200 while the file given by --ready-file says "ok", 500 otherwise (the way
// a real API server answers once it has lost etcd quorum). Tests run it inside a network
// namespace and flip the file.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		probe(os.Args[2:])
		return
	}
	listen := flag.String("listen", "127.0.0.1:6443", "address to serve HTTPS on")
	readyFile := flag.String("ready-file", "", "file whose content \"ok\" means ready")
	name := flag.String("name", "", "host name served at /host (which host answers at the VIP)")
	flag.Parse()
	cert, err := selfSigned()
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		b, _ := os.ReadFile(*readyFile)
		if strings.TrimSpace(string(b)) == "ok" {
			fmt.Fprint(w, "ok")
			return
		}
		http.Error(w, "[-]etcd failed: reason withheld\nreadyz check failed", http.StatusInternalServerError)
	})
	mux.HandleFunc("/host", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, *name) })
	srv := &http.Server{Addr: *listen, Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// probe GETs URL every interval until duration passes and prints "<unix nanos> <host or ->" per
// attempt: which host answered at the VIP, and when.
func probe(args []string) {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	url := fs.String("url", "", "URL to GET, e.g. https://198.51.100.100:6443/host")
	interval := fs.Duration("interval", 20*time.Millisecond, "time between attempts")
	timeout := fs.Duration("timeout", 100*time.Millisecond, "timeout of one attempt")
	duration := fs.Duration("duration", 10*time.Second, "how long to probe")
	_ = fs.Parse(args)
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true, //nolint:gosec // test traffic to a stand-in
	}}
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		start := time.Now()
		who := "-"
		if resp, err := client.Get(*url); err == nil {
			b := make([]byte, 64)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			who = strings.TrimSpace(string(b[:n]))
		}
		fmt.Printf("%d %s\n", start.UnixNano(), who)
		if d := *interval - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "standin"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
