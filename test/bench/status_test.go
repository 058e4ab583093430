// Package bench measures the manager on a large cluster: how fast HAControlPlane status follows a
// control-plane Node, and how much memory the manager holds with thousands of unrelated objects.
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/controllers"
	"hacp.dev/hacp/test/testenv"
)

const (
	workers = 5000
	secrets = 5000
	changes = 100
)

type result struct {
	name     string
	heapMiB  float64
	p50, p99 time.Duration
}

// BenchmarkStatus runs the manager twice against the same API server (3 control-plane Nodes,
// 5,000 worker Nodes, 5,000 unrelated Secrets): once with hacp's cache options, once caching
// everything it watches. Run it with `make bench-status`; it prints a table.
func BenchmarkStatus(b *testing.B) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Skip("KUBEBUILDER_ASSETS is not set: run `make bench-status`")
	}
	log.SetLogger(logrDiscard())
	env, cfg, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	populate(b, ctx, c)
	fmt.Printf("populated %d worker Nodes and %d Secrets in %s\n", workers, secrets, time.Since(start).Round(time.Second))

	var results []result
	for i, mode := range []string{"hacp cache options", "unrestricted cache"} {
		results = append(results, runManager(b, ctx, cfg, c, mode, fmt.Sprintf("bench-%d", i)))
	}
	fmt.Println("\n| manager cache | heap after sync (MiB) | status p50 | status p99 |")
	fmt.Println("| --- | --- | --- | --- |")
	for _, r := range results {
		fmt.Printf("| %s | %.1f | %s | %s |\n", r.name, r.heapMiB, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond))
	}
	fmt.Printf("\nmemory ratio (hacp / unrestricted): %.2f\n", results[0].heapMiB/results[1].heapMiB)
}

func populate(b *testing.B, ctx context.Context, c client.Client) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := make(chan client.Object, 256)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := c.Create(ctx, o); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range workers {
		work <- &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("worker-%05d", i), Labels: map[string]string{"kubernetes.io/hostname": fmt.Sprintf("worker-%05d", i), "node.kubernetes.io/instance-type": "m5.large"}}}
	}
	payload := make([]byte, 2048)
	for i := range secrets {
		work <- &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-secret-%05d", i), Namespace: "default"}, Data: map[string][]byte{"payload": payload}}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

func runManager(b *testing.B, ctx context.Context, cfg *rest.Config, c client.Client, mode, prefix string) result {
	// Three control-plane Nodes and an HAControlPlane of this run.
	nodeSel := map[string]string{"node-role.kubernetes.io/control-plane": "", "bench": prefix}
	for i := 1; i <= 3; i++ {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-cp%d", prefix, i), Labels: nodeSel}}
		if err := c.Create(ctx, n); err != nil {
			b.Fatal(err)
		}
		setReady(b, ctx, c, n.Name, true)
	}
	hcp := &hacpv1.HAControlPlane{ObjectMeta: metav1.ObjectMeta{Name: prefix, Namespace: "default"}, Spec: hacpv1.HAControlPlaneSpec{ControlPlaneEndpoint: "198.51.100.8:6443", ControlPlaneSelector: hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": "", "bench": hacpv1.LabelValue(prefix)}}}
	if err := c.Create(ctx, hcp); err != nil {
		b.Fatal(err)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	opts := cache.Options{}
	if mode == "hacp cache options" {
		var err error
		if opts, err = controllers.CacheOptions(controllers.DefaultNodeCacheSelector); err != nil {
			b.Fatal(err)
		}
	}
	// Two managers in one process register the same controller names (testenv allows it).
	mgr, err := testenv.NewManager(cfg, controllers.NewScheme(), opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := controllers.SetupReconcilers(mgr, controllers.Config{AgentImage: "hacp:bench"}); err != nil {
		b.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		b.Fatal("cache did not sync")
	}
	waitMember(b, ctx, c, hcp, prefix+"-cp3", true)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / (1 << 20)

	// 100 changes of a control-plane Node's Ready condition.
	lat := make([]time.Duration, 0, changes)
	ready := true
	for range changes {
		ready = !ready
		t0 := time.Now()
		setReady(b, ctx, c, prefix+"-cp3", ready)
		waitMember(b, ctx, c, hcp, prefix+"-cp3", ready)
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{name: mode, heapMiB: heap, p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

func setReady(b *testing.B, ctx context.Context, c client.Client, name string, ready bool) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	var n corev1.Node
	if err := c.Get(ctx, types.NamespacedName{Name: name}, &n); err != nil {
		b.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "Bench", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, &n); err != nil {
		b.Fatal(err)
	}
}

func waitMember(b *testing.B, ctx context.Context, c client.Client, hcp *hacpv1.HAControlPlane, member string, ready bool) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var got hacpv1.HAControlPlane
		if err := c.Get(ctx, client.ObjectKeyFromObject(hcp), &got); err == nil {
			for _, m := range got.Status.Members {
				if m.Name == member && m.NodeReady == ready {
					return
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("status of %s did not show %s ready=%v within 30s", hcp.Name, member, ready)
}
