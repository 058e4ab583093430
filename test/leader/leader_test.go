// Package leader checks operator HA: two managers with leader election; the leader is killed
// (no lease release, as a crash); the standby takes over within the lease and changes nothing the
// leader made: no extra bootstrap token, no config churn.
package leader

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/controllers"
	"hacp.dev/hacp/test/pki"
	"hacp.dev/hacp/test/testenv"
)

const lease = 3 * time.Second

func newManager(t *testing.T, cfg *rest.Config, id string) (ctrl.Manager, context.CancelFunc, chan error) {
	t.Helper()
	cacheOpts, err := controllers.CacheOptions(controllers.DefaultNodeCacheSelector)
	if err != nil {
		t.Fatal(err)
	}
	renew, retry := 2*time.Second, 500*time.Millisecond
	mgr, err := testenv.NewManager(cfg, controllers.NewScheme(), cacheOpts, func(o *ctrl.Options) {
		o.LeaderElection, o.LeaderElectionID, o.LeaderElectionNamespace = true, "hacp.dev", "default"
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = ptr.To(lease), &renew, &retry
		// A crash releases nothing.
		o.LeaderElectionReleaseOnCancel = false
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupReconcilers(mgr, controllers.Config{AgentImage: "hacp:" + id}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return mgr, cancel, done
}

func TestStandbyTakesOverWithoutChurn(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUBEBUILDER_ASSETS is not set; run through make test")
		}
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	log.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevelError())))
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	ca, _ := pki.NewCA("kubernetes")
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: %s\n    server: https://198.51.100.8:6443\n", base64.StdEncoding.EncodeToString(ca.CertPEM))
	must(t, c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"kubeconfig": kubeconfig}}))
	for i := 1; i <= 3; i++ {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("h%d", i), Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}
		must(t, c.Create(ctx, n))
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("198.51.100.%d", 10+i)}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		must(t, c.Status().Update(ctx, n))
	}
	must(t, c.Create(ctx, &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: "vip", Namespace: "kube-system"}, Spec: hacpv1.VIPGroupSpec{
		VirtualIPs: []string{"198.51.100.8"}, VirtualRouterID: 68, Interface: "eth0"}}))
	must(t, c.Create(ctx, &hacpv1.HAControlPlane{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "kube-system"}, Spec: hacpv1.HAControlPlaneSpec{
		ControlPlaneEndpoint: "198.51.100.8:6443", VIPGroupRef: &hacpv1.LocalObjectReference{Name: "vip"}}}))

	a, stopA, doneA := newManager(t, cfg, "a")
	select {
	case <-a.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("manager a was not elected")
	}
	b, stopB, doneB := newManager(t, cfg, "b")
	defer func() { stopB(); <-doneB }()

	// The leader produces join material and configs.
	var join, configs corev1.Secret
	waitFor(t, 30*time.Second, "the leader's join Secret and configs", func() bool {
		return c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes-join"}, &join) == nil &&
			c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "vip-keepalived"}, &configs) == nil && len(configs.Data) == 3
	})
	tokensBefore := hacpTokens(t, c)
	if len(tokensBefore) != 1 {
		t.Fatalf("%d tokens before failover", len(tokensBefore))
	}
	select {
	case <-b.Elected():
		t.Fatal("the standby was elected while the leader was alive")
	default:
	}

	// Kill the leader: its lease is not released.
	killed := time.Now()
	stopA()
	<-doneA
	select {
	case <-b.Elected():
		took := time.Since(killed)
		t.Logf("standby elected %s after the leader was killed (lease %s)", took.Round(10*time.Millisecond), lease)
		if took > lease+2*time.Second {
			t.Errorf("the standby took %s, longer than the lease plus one retry", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the standby never took over")
	}

	// Let the new leader reconcile everything, then compare.
	time.Sleep(3 * time.Second)
	var join2, configs2 corev1.Secret
	must(t, c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes-join"}, &join2))
	must(t, c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "vip-keepalived"}, &configs2))
	if after := hacpTokens(t, c); len(after) != 1 || after[0] != tokensBefore[0] {
		t.Errorf("tokens changed across failover: %v -> %v", tokensBefore, after)
	}
	if string(join2.Data["workerJoinCommand"]) != string(join.Data["workerJoinCommand"]) {
		t.Error("the join command changed across failover")
	}
	for node, text := range configs.Data {
		if string(configs2.Data[node]) != string(text) {
			t.Errorf("%s's keepalived config changed across failover", node)
		}
	}
	var pw corev1.Secret
	must(t, c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "vip-vrrp-auth"}, &pw))
	if pw.ResourceVersion == "" {
		t.Error("no password Secret")
	}
}

func hacpTokens(t *testing.T, c client.Client) []string {
	var list corev1.SecretList
	must(t, c.List(context.Background(), &list, client.InNamespace("kube-system"), client.MatchingLabels{"hacp.dev/token-role": "join"}))
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
