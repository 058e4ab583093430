package kubeadm

import (
	"testing"
	"time"
)

func TestConsumerKind(t *testing.T) {
	for key, want := range map[string]string{
		"h1 pod kube-apiserver-h1":                 "pod kube-apiserver",
		"h2 pod kube-apiserver-keepalived-5hnx6":   "pod kube-apiserver-keepalived",
		"h1 pod hacp-manager-596c47bd54-cwlpm":     "pod hacp-manager",
		"h3 pod hacp-standby-kube-apiserver-h3":    "pod hacp-standby-kube-apiserver",
		"h4 pod kube-proxy-x7zq2":                  "pod kube-proxy",
		"h2 pod etcd-h2":                           "pod etcd",
		"h1 kubelet":                               "kubelet",
		"h1 containerd-shim":                       "containerd-shim",
		"h1 pod pod0c1d2e3f-0000-0000-0000-000000": "pod pod0c1d2e3f-0000-0000-0000-000000",
	} {
		if got := consumerKind(key); got != want {
			t.Errorf("consumerKind(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestCPUShares(t *testing.T) {
	before := map[string]int64{"h1 pod etcd-h1": 1e9, "h2 pod etcd-h2": 2e9, "h1 kubelet": 5e9}
	after := map[string]int64{"h1 pod etcd-h1": 2e9, "h2 pod etcd-h2": 4e9, "h1 kubelet": 5.5e9, "h1 runc": 1e9}
	got := cpuShares(before, after, 10*time.Second, true)
	want := []cpuShare{{"pod etcd", 0.3}, {"runc", 0.1}, {"kubelet", 0.05}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].name != want[i].name || got[i].cores-want[i].cores > 1e-9 || want[i].cores-got[i].cores > 1e-9 {
			t.Errorf("share %d = %v, want %v", i, got[i], want[i])
		}
	}
}
