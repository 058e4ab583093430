// Command demo shows hacp doing its job on an embedded local control plane: the seed's four hosts
// as Nodes, examples/haclusterplane.yaml applied, the manager running in-process, and what
// `kubectl get hacp,vipg -A` would print. It leaves nothing running.
//
// Run it with `make demo`, which provides kube-apiserver and etcd (KUBEBUILDER_ASSETS).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/controllers"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/manifest"
	"hacp.dev/hacp/internal/statusprint"
	"hacp.dev/hacp/internal/table"
	"hacp.dev/hacp/test/pki"
	"hacp.dev/hacp/test/testenv"
)

// The seed's hosts: h1..h3 control plane, h4 a worker.
var seedHosts = []struct {
	name, ip     string
	controlPlane bool
}{
	{"h1", "192.168.1.12", true},
	{"h2", "192.168.1.10", true},
	{"h3", "192.168.1.9", true},
	{"h4", "192.168.1.16", false},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run `make demo`, which builds kube-apiserver and etcd first")
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	logOut := io.Discard
	if os.Getenv("HACP_DEMO_VERBOSE") != "" {
		logOut = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logOut)))

	step("Starting a local control plane (kube-apiserver + etcd) and installing hacp's CRDs")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the local control plane: %w", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping the local control plane:", err)
		}
	}()

	scheme := controllers.NewScheme()
	_ = apiextensionsv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	step("Registering the seed's hosts as Nodes (h1..h3 control plane, h4 worker)")
	for _, h := range seedHosts {
		if err := createNode(ctx, c, h.name, h.ip, h.controlPlane); err != nil {
			return err
		}
		role := "worker"
		if h.controlPlane {
			role = "control-plane"
		}
		fmt.Printf("  %-3s %-13s %s, Ready\n", h.name, h.ip, role)
		if h.controlPlane {
			// What kubeadm runs on a control-plane node: static pods, mirrored into kube-system.
			for _, comp := range []string{"etcd", "kube-apiserver"} {
				if err := createMirrorPod(ctx, c, comp, h.name, h.ip); err != nil {
					return err
				}
			}
		}
	}

	step("kubeadm init published kube-public/cluster-info (the CA that join commands pin)")
	if err := createClusterInfo(ctx, c); err != nil {
		return err
	}

	step("kubectl apply -f examples/haclusterplane.yaml")
	data, err := os.ReadFile(filepath.Join(root, "examples", "haclusterplane.yaml"))
	if err != nil {
		return err
	}
	objs, err := manifest.Decode(data)
	if err != nil {
		return fmt.Errorf("examples/haclusterplane.yaml: %w", err)
	}
	for _, o := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		fmt.Printf("  %s.hacp.dev/%s created\n", strings.ToLower(o.GetKind()), o.GetName())
	}

	step("Running the hacp manager in-process")
	cacheOpts, err := controllers.CacheOptions(controllers.DefaultNodeCacheSelector)
	if err != nil {
		return err
	}
	mgr, err := testenv.NewManager(cfg, scheme, cacheOpts)
	if err != nil {
		return err
	}
	readCerts, stopCerts, err := demoCertificates()
	if err != nil {
		return err
	}
	defer stopCerts()
	if err := controllers.SetupReconcilers(mgr, controllers.Config{AgentImage: "hacp:dev", ReadCertificates: readCerts}); err != nil {
		return err
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	defer func() {
		stopMgr()
		<-mgrDone
	}()

	if err := waitObserved(ctx, c); err != nil {
		return err
	}

	step("The VIPGroup reconciler's output: an agent DaemonSet on every control-plane node")
	if err := printDaemonSet(ctx, c); err != nil {
		return err
	}
	step("Agents start on h1..h3 and report the interface holding each node's address (simulated: no keepalived runs in the demo; `make test` runs real ones)")
	if err := simulateAgents(ctx, c, "eth0", nil); err != nil {
		return err
	}
	configs, err := waitConfigs(ctx, c, 3)
	if err != nil {
		return err
	}
	step("Rendered keepalived.conf per node (Secret kube-system/kube-apiserver-keepalived; password masked)")
	for _, n := range []string{"h1", "h2", "h3"} {
		fmt.Printf("--- %s ---\n%s", n, maskPassword(configs[n]))
	}
	step("The agents apply them; keepalived elects h1 (highest priority, API server ready)")
	states := map[string]hacpv1.VRRPState{"h1": hacpv1.VRRPStateMaster, "h2": hacpv1.VRRPStateBackup, "h3": hacpv1.VRRPStateBackup}
	if err := simulateAgents(ctx, c, "eth0", func(node string) (string, string) {
		return string(states[node]), keepalived.HashConfig(configs[node])
	}); err != nil {
		return err
	}
	if err := waitVIPReady(ctx, c); err != nil {
		return err
	}

	if err := waitQuorum(ctx, c, hacpv1.ReasonQuorate); err != nil {
		return err
	}
	step("kubectl get hacp,vipg -A")
	if err := printTables(ctx, c); err != nil {
		return err
	}
	if err := printConditions(ctx, c); err != nil {
		return err
	}
	if err := printWhatIf(ctx, c); err != nil {
		return err
	}

	step("Join commands, always valid: Secret kube-system/kubernetes-join (hacpctl join; secrets masked)")
	if err := printJoin(ctx, c); err != nil {
		return err
	}

	step("Certificate expiry, as each server presents it (hacpctl certs; TLS servers on loopback stand in for h1..h3, and etcd's on h1 expires in 20 days)")
	if err := printCertificates(ctx, c); err != nil {
		return err
	}

	step("The seed's first question: h3 fails (its Node turns NotReady). Does the cluster still work?")
	if err := setNodeReady(ctx, c, "h3", false); err != nil {
		return err
	}
	if err := waitQuorum(ctx, c, hacpv1.ReasonAtRisk); err != nil {
		return err
	}
	if err := printTables(ctx, c); err != nil {
		return err
	}
	if err := printWhatIf(ctx, c); err != nil {
		return err
	}

	step("The seed's second question: then h2 fails too")
	if err := setNodeReady(ctx, c, "h2", false); err != nil {
		return err
	}
	if err := waitQuorum(ctx, c, hacpv1.ReasonQuorumLost); err != nil {
		return err
	}
	if err := printTables(ctx, c); err != nil {
		return err
	}
	if err := printConditions(ctx, c); err != nil {
		return err
	}
	step("Done: the manager and the local control plane are stopped")
	return nil
}

// demoCertificates starts a TLS server on loopback for each certificate h1..h3 would serve (the
// seed's addresses are not on this machine, and the demo never dials them) and returns a reader
// that handshakes with those servers in the hosts' stead.
func demoCertificates() (func(context.Context, []certexpiry.Target, time.Duration) []certexpiry.Observed, func(), error) {
	day := 24 * time.Hour
	addrs := map[string]string{}
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	for i, node := range []string{"h1", "h2", "h3"} {
		for _, comp := range []certexpiry.Component{certexpiry.APIServer, certexpiry.EtcdServer, certexpiry.EtcdPeer, certexpiry.Kubelet} {
			left := time.Duration(330-20*i) * day
			if node == "h1" && comp == certexpiry.EtcdServer {
				left = 20 * day
			}
			addr, s, err := pki.ServeTLS(string(comp), time.Now().Add(left).Truncate(time.Second), comp != certexpiry.APIServer)
			if err != nil {
				stop()
				return nil, nil, err
			}
			stops = append(stops, s)
			addrs[node+"/"+string(comp)] = addr
		}
	}
	read := certexpiry.ReadVia(func(t certexpiry.Target) (string, bool) {
		addr, ok := addrs[t.Node+"/"+string(t.Component)]
		return addr, ok
	})
	return read, stop, nil
}

func printCertificates(ctx context.Context, c client.Client) error {
	var hcp hacpv1.HAControlPlane
	err := poll(ctx, "certificate status", func() bool {
		return c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp) == nil && len(hcp.Status.Certificates) > 0
	})
	if err != nil {
		return err
	}
	statusprint.Certificates(os.Stdout, &hcp, time.Now())
	return nil
}

func createNode(ctx context.Context, c client.Client, name, ip string, controlPlane bool) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if controlPlane {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
	}
	if err := c.Create(ctx, n); err != nil {
		return fmt.Errorf("creating Node %s: %w", name, err)
	}
	n.Status = corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if err := c.Status().Update(ctx, n); err != nil {
		return fmt.Errorf("setting Node %s status: %w", name, err)
	}
	return nil
}

// waitObserved waits until both example objects carry a status for their current generation.
func waitObserved(ctx context.Context, c client.Client) error {
	return poll(ctx, "the reconcilers to report status", func() bool {
		var vg hacpv1.VIPGroup
		var hcp hacpv1.HAControlPlane
		errV := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver"}, &vg)
		errH := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp)
		return errV == nil && errH == nil && vg.Status.ObservedGeneration == vg.Generation && hcp.Status.ObservedGeneration == hcp.Generation
	})
}

func printTables(ctx context.Context, c client.Client) error {
	for _, res := range []string{"hacontrolplanes.hacp.dev", "vipgroups.hacp.dev"} {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, types.NamespacedName{Name: res}, &crd); err != nil {
			return err
		}
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion("hacp.dev/v1alpha1")
		list.SetKind(crd.Spec.Names.ListKind)
		if err := c.List(ctx, list); err != nil {
			return err
		}
		if err := table.Print(os.Stdout, &crd, list.Items, time.Now()); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}

func printConditions(ctx context.Context, c client.Client) error {
	var hcp hacpv1.HAControlPlane
	if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp); err != nil {
		return err
	}
	var vg hacpv1.VIPGroup
	if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver"}, &vg); err != nil {
		return err
	}
	fmt.Println("Conditions:")
	for _, cond := range hcp.Status.Conditions {
		fmt.Printf("  hacp/kubernetes     %-18s %-8s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	for _, cond := range vg.Status.Conditions {
		fmt.Printf("  vipg/kube-apiserver %-18s %-8s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	fmt.Println("VIPGroup nodes:")
	for _, n := range vg.Status.Nodes {
		fmt.Printf("  %-3s %-13s priority %d  %-7s config %s\n", n.Name, strings.Join(n.Addresses, ","), n.Priority, n.State, short(n.ConfigHash))
	}
	return nil
}

func createMirrorPod(ctx context.Context, c client.Client, component, node, ip string) error {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: component + "-" + node, Namespace: "kube-system",
			Labels: map[string]string{"component": component, "tier": "control-plane"},
		},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: component, Image: "registry.k8s.io/" + component}}},
	}
	if component == "etcd" {
		p.Annotations = map[string]string{"kubeadm.kubernetes.io/etcd.advertise-client-urls": "https://" + ip + ":2379"}
	}
	if err := c.Create(ctx, p); err != nil {
		return err
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return c.Status().Update(ctx, p)
}

func setNodeReady(ctx context.Context, c client.Client, name string, ready bool) error {
	var n corev1.Node
	if err := c.Get(ctx, types.NamespacedName{Name: name}, &n); err != nil {
		return err
	}
	st, reason := corev1.ConditionTrue, "KubeletReady"
	if !ready {
		st, reason = corev1.ConditionUnknown, "NodeStatusUnknown"
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: reason, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	return c.Status().Update(ctx, &n)
}

func waitQuorum(ctx context.Context, c client.Client, reason string) error {
	return poll(ctx, "QuorumHealthy reason "+reason, func() bool {
		var hcp hacpv1.HAControlPlane
		if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp); err != nil {
			return false
		}
		for _, cond := range hcp.Status.Conditions {
			if cond.Type == hacpv1.ConditionQuorumHealthy && cond.Reason == reason {
				return true
			}
		}
		return false
	})
}

func printWhatIf(ctx context.Context, c client.Client) error {
	var hcp hacpv1.HAControlPlane
	if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp); err != nil {
		return err
	}
	fmt.Println("What if (status.whatIf):")
	for _, w := range hcp.Status.WhatIf {
		mark := "survives"
		if !w.Survives {
			mark = fmt.Sprintf("breaks %v", w.Breaks)
		}
		fmt.Printf("  %-40s %s\n", mark, w.Message)
	}
	return nil
}

func createClusterInfo(ctx context.Context, c client.Client) error {
	ca, err := pki.NewCA("kubernetes")
	if err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: %s\n    server: https://192.168.1.8:6443\n", base64.StdEncoding.EncodeToString(ca.CertPEM))
	return c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"kubeconfig": kubeconfig}})
}

var tokenSecretRE = regexp.MustCompile(`(--token [a-z0-9]{6}\.)[a-z0-9]{16}`)

func printJoin(ctx context.Context, c client.Client) error {
	var s corev1.Secret
	if err := poll(ctx, "the join Secret", func() bool {
		return c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes-join"}, &s) == nil
	}); err != nil {
		return err
	}
	fmt.Printf("  worker:        %s\n", tokenSecretRE.ReplaceAllString(string(s.Data["workerJoinCommand"]), "${1}****************"))
	fmt.Printf("  expires at:    %s (rotated %s before; never more than two live tokens)\n", s.Data["expiresAt"], "2h")
	if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes-join-control-plane"}, &corev1.Secret{}); err != nil {
		fmt.Println("  control plane: certificateUpload is Disabled in the example (enable it with the manager on a control-plane node and /etc/kubernetes/pki mounted)")
	}
	return nil
}

func printDaemonSet(ctx context.Context, c client.Client) error {
	var ds appsv1.DaemonSet
	if err := poll(ctx, "the agent DaemonSet", func() bool {
		return c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver-keepalived"}, &ds) == nil
	}); err != nil {
		return err
	}
	spec := ds.Spec.Template.Spec
	sc := spec.Containers[0].SecurityContext
	fmt.Printf("  daemonset.apps/%s: nodeSelector %v, hostNetwork %v, privileged %v, capabilities %v\n",
		ds.Name, spec.NodeSelector, spec.HostNetwork, *sc.Privileged, sc.Capabilities.Add)
	fmt.Printf("  args: %v\n", spec.Containers[0].Args)
	return nil
}

// simulateAgents does what each agent Pod of the DaemonSet does on a real node: it exists on its
// node and annotates itself with its interface and, once keepalived runs, state and config hash.
func simulateAgents(ctx context.Context, c client.Client, iface string, report func(node string) (state, hash string)) error {
	for _, h := range seedHosts {
		if !h.controlPlane {
			continue
		}
		name := "kube-apiserver-keepalived-" + h.name
		var p corev1.Pod
		err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: name}, &p)
		if err != nil {
			p = corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{
					"app.kubernetes.io/name": "hacp-agent", "app.kubernetes.io/managed-by": "hacp", "hacp.dev/vipgroup": "kube-apiserver", "tier": "control-plane",
				}},
				Spec: corev1.PodSpec{NodeName: h.name, Containers: []corev1.Container{{Name: "agent", Image: "hacp:dev"}}},
			}
			if err := c.Create(ctx, &p); err != nil {
				return err
			}
		}
		patch := client.MergeFrom(p.DeepCopy())
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[contract.AnnotationInterface] = iface
		if report != nil {
			p.Annotations[contract.AnnotationState], p.Annotations[contract.AnnotationConfigHash] = report(h.name)
		}
		if err := c.Patch(ctx, &p, patch); err != nil {
			return err
		}
	}
	return nil
}

func waitConfigs(ctx context.Context, c client.Client, n int) (map[string][]byte, error) {
	var s corev1.Secret
	err := poll(ctx, "rendered configs", func() bool {
		return c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver-keepalived"}, &s) == nil && len(s.Data) == n
	})
	return s.Data, err
}

func waitVIPReady(ctx context.Context, c client.Client) error {
	return poll(ctx, "the VIPGroup to be Ready", func() bool {
		var vg hacpv1.VIPGroup
		if err := c.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver"}, &vg); err != nil || vg.Status.Master == "" {
			return false
		}
		for _, cond := range vg.Status.Conditions {
			if cond.Type == hacpv1.ConditionReady && cond.Status == metav1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// poll checks cond every 100 ms until it holds or ctx ends.
func poll(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

var authPass = regexp.MustCompile(`(auth_pass )\S+`)

func maskPassword(text []byte) string {
	return authPass.ReplaceAllString(string(text), "${1}********")
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the hacp repository")
		}
		dir = parent
	}
}
