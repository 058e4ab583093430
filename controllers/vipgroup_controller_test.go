package controllers

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// testCluster is one spec's slice of the shared API server: its own namespace, and Nodes whose
// names and selector label are unique to it.
type testCluster struct {
	ns    string
	label string
}

func newTestCluster() *testCluster {
	ns := newNamespace()
	return &testCluster{ns: ns, label: ns}
}

func (tc *testCluster) nodeName(short string) string { return tc.ns + "-" + short }

// addNode registers a Ready control-plane Node with an InternalIP.
func (tc *testCluster) addNode(short, ip string) *corev1.Node {
	return tc.createNode(short, ip, map[string]string{"node-role.kubernetes.io/control-plane": "", "hacp-test": tc.label})
}

// addWorker registers a Ready worker Node of this test.
func (tc *testCluster) addWorker(short, ip string) *corev1.Node {
	return tc.createNode(short, ip, map[string]string{"hacp-test": tc.label})
}

func (tc *testCluster) createNode(short, ip string, lbls map[string]string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: tc.nodeName(short), Labels: lbls}}
	Expect(k8sClient.Create(ctx, n)).To(Succeed())
	n.Status = corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, n) })
	return n
}

func (tc *testCluster) vipGroup(name string, vrid int32, vips ...string) *hacpv1.VIPGroup {
	return &hacpv1.VIPGroup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tc.ns},
		Spec: hacpv1.VIPGroupSpec{
			VirtualIPs:      vips,
			VirtualRouterID: vrid,
			Interface:       "eth0",
			NodeSelector:    hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": "", "hacp-test": hacpv1.LabelValue(tc.label)},
		},
	}
}

func configSecret(g Gomega, vg *hacpv1.VIPGroup) *corev1.Secret {
	var s corev1.Secret
	g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: vg.Name + "-keepalived"}, &s)).To(Succeed())
	return &s
}

func getVIPGroup(g Gomega, vg *hacpv1.VIPGroup) *hacpv1.VIPGroup {
	var out hacpv1.VIPGroup
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(vg), &out)).To(Succeed())
	return &out
}

// peersOf returns the unicast peers in a rendered config.
func peersOf(g Gomega, text []byte) []string {
	root, err := keepalived.Parse(text)
	g.Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, in := range root.Children {
		if in.Keyword == "vrrp_instance" {
			if up := in.Child("unicast_peer"); up != nil {
				for _, p := range up.Children {
					out = append(out, p.Keyword)
				}
			}
		}
	}
	return out
}

// conditionOf is the condition of type typ in conds; it fails g when there is none.
func conditionOf(g Gomega, conds []metav1.Condition, typ string) *metav1.Condition {
	c := meta.FindStatusCondition(conds, typ)
	g.Expect(c).NotTo(BeNil(), "no %s condition", typ)
	return c
}

// nodeStatusOf is node's entry in st.nodes, nil when there is none.
func nodeStatusOf(st hacpv1.VIPGroupStatus, node string) *hacpv1.VIPGroupNodeStatus {
	for i := range st.Nodes {
		if st.Nodes[i].Name == node {
			return &st.Nodes[i]
		}
	}
	return nil
}

// twoNodeGroup makes Nodes h1 and h2 (addresses 198.51.100.first and next), a VIPGroup on them,
// and waits for both configs; it returns their hashes by node name.
func twoNodeGroup(vrid int32, first int, vip string) (*testCluster, *hacpv1.VIPGroup, map[string]string) {
	GinkgoHelper()
	tc := newTestCluster()
	for i, n := range []string{"h1", "h2"} {
		tc.addNode(n, fmt.Sprintf("198.51.100.%d", first+i))
	}
	vg := tc.vipGroup("vip", vrid, vip)
	Expect(k8sClient.Create(ctx, vg)).To(Succeed())
	hashes := map[string]string{}
	Eventually(func(g Gomega) {
		data := configSecret(g, vg).Data
		g.Expect(data).To(HaveLen(2))
		for name, text := range data {
			hashes[name] = keepalivedHash(text)
		}
	}).Should(Succeed())
	return tc, vg, hashes
}

// reportAgent creates (or updates) the agent Pod on a node with the annotations an agent writes.
func reportAgent(vg *hacpv1.VIPGroup, node, state, hash string) {
	name := vg.Name + "-agent-" + node
	p := &corev1.Pod{}
	err := k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: name}, p)
	if err != nil {
		p = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: vg.Namespace, Labels: agentLabels(vg)},
			Spec: corev1.PodSpec{
				NodeName:                      node,
				Containers:                    []corev1.Container{{Name: "agent", Image: "hacp:test"}},
				TerminationGracePeriodSeconds: ptr.To[int64](0),
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
	}
	patch := client.MergeFrom(p.DeepCopy())
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[contract.AnnotationState] = state
	p.Annotations[contract.AnnotationConfigHash] = hash
	p.Annotations[contract.AnnotationInterface] = "eth0"
	Expect(k8sClient.Patch(ctx, p, patch)).To(Succeed())
}

// heartbeat rewrites the node's report time every second, as a live agent does, until the
// returned function is called (at the latest when the spec ends). Without it (reportAgent alone) a
// report is an older agent's, which the reconciler judges by its Node only.
func heartbeat(vg *hacpv1.VIPGroup, node string) (stop func()) {
	stopped, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		for {
			select {
			case <-stopped:
				return
			case <-time.After(time.Second):
				p := &corev1.Pod{}
				Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: vg.Name + "-agent-" + node}, p)).To(Succeed())
				patch := client.MergeFrom(p.DeepCopy())
				p.Annotations[contract.AnnotationReportedAt] = time.Now().UTC().Format(time.RFC3339Nano)
				Expect(k8sClient.Patch(ctx, p, patch)).To(Succeed())
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(stopped); <-done }) }
	DeferCleanup(stop)
	return stop
}

var _ = Describe("VIPGroup reconciler", func() {
	It("renders a config per member that follows membership, and runs a DaemonSet on exactly those nodes", func() {
		tc := newTestCluster()
		for i, n := range []string{"h1", "h2", "h3"} {
			tc.addNode(n, fmt.Sprintf("198.51.100.%d", 11+i))
		}
		tc.addWorker("worker", "198.51.100.30")      // not selected: no control-plane label
		vg := tc.vipGroup("vip", 66, "198.51.100.6") // not 68: the example group in kube-system holds it on every control-plane node; not .8: the CRD specs' groups claim it
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())

		Eventually(func(g Gomega) {
			s := configSecret(g, vg)
			g.Expect(s.Data).To(HaveLen(3))
			for i, n := range []string{"h1", "h2", "h3"} {
				text := s.Data[tc.nodeName(n)]
				g.Expect(text).NotTo(BeEmpty())
				g.Expect(keepalived.Lint(text)).To(Succeed())
				own := fmt.Sprintf("198.51.100.%d", 11+i)
				g.Expect(string(text)).To(ContainSubstring("unicast_src_ip " + own))
				g.Expect(peersOf(g, text)).To(HaveLen(2))
				g.Expect(peersOf(g, text)).NotTo(ContainElement(own))
			}
			g.Expect(s.OwnerReferences).To(ContainElement(HaveField("Controller", ptr.To(true))))
			got := getVIPGroup(g, vg)
			g.Expect(got.Status.NodeCount).To(BeEquivalentTo(3))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, hacpv1.ConditionConfigValid)).To(BeTrue())
		}).Should(Succeed())

		// The DaemonSet is applied just after the Secret.
		var ds appsv1.DaemonSet
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-keepalived"}, &ds)
		}).Should(Succeed())
		pod := ds.Spec.Template.Spec
		Expect(pod.NodeSelector).To(Equal(vg.Spec.NodeSelector.AsMap()))
		Expect(pod.HostNetwork).To(BeTrue())
		Expect(pod.Tolerations).To(ContainElement(HaveField("Key", "node-role.kubernetes.io/control-plane")))
		// keepalived must run on a node whose pod network is not up yet (NotReady, NoSchedule),
		// such as the first node before its CNI or a node that just joined.
		for _, taint := range []corev1.Taint{
			{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoExecute},
			{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute},
		} {
			tolerated := false
			for _, tol := range pod.Tolerations {
				tolerated = tolerated || tol.ToleratesTaint(logr.Discard(), &taint, false)
			}
			Expect(tolerated).To(BeTrue(), "taint %s:%s", taint.Key, taint.Effect)
		}
		sc := pod.Containers[0].SecurityContext
		Expect(sc.Privileged).To(Equal(ptr.To(false)))
		Expect(sc.Capabilities.Add).To(ContainElements(corev1.Capability("NET_ADMIN"), corev1.Capability("NET_RAW")))
		Expect(sc.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")))
		Expect(ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue()).To(Equal(1))
		Expect(pod.Containers[0].Image).To(Equal("hacp:test"))

		var role rbacv1.Role
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-hacp-agent"}, &role)
		}).Should(Succeed())
		Expect(role.Rules[0].Resources).To(Equal([]string{"secrets"}))
		Expect(role.Rules[0].ResourceNames).To(Equal([]string{"vip-keepalived"}), "agents may read their config Secret only")

		By("a fourth control-plane node joins")
		h4 := tc.addNode("h4", "198.51.100.14")
		Eventually(func(g Gomega) {
			s := configSecret(g, vg)
			g.Expect(s.Data).To(HaveLen(4))
			for name, text := range s.Data {
				if name != h4.Name {
					g.Expect(peersOf(g, text)).To(ContainElement("198.51.100.14"))
				}
			}
			g.Expect(string(s.Data[h4.Name])).To(ContainSubstring("unicast_src_ip 198.51.100.14"), "h4 gets a config of its own")
			g.Expect(peersOf(g, s.Data[h4.Name])).To(ConsistOf("198.51.100.11", "198.51.100.12", "198.51.100.13"))
			g.Expect(getVIPGroup(g, vg).Status.Nodes).To(ContainElement(And(HaveField("Name", h4.Name), HaveField("Addresses", []string{"198.51.100.14"}))))
		}).Should(Succeed())

		By("it leaves again")
		Expect(k8sClient.Delete(ctx, h4)).To(Succeed())
		Eventually(func(g Gomega) {
			s := configSecret(g, vg)
			g.Expect(s.Data).To(HaveLen(3))
			for _, text := range s.Data {
				g.Expect(peersOf(g, text)).NotTo(ContainElement("198.51.100.14"))
			}
		}).Should(Succeed())

		By("a VIP changes: every node gets a new config")
		before := configSecret(Default, vg).Data
		Eventually(func() error {
			cur := getVIPGroup(Default, vg)
			cur.Spec.VirtualIPs = []string{"198.51.100.7"}
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			s := configSecret(g, vg)
			for name, text := range s.Data {
				g.Expect(string(text)).NotTo(Equal(string(before[name])))
				g.Expect(string(text)).To(ContainSubstring("198.51.100.7/32"))
			}
			g.Expect(getVIPGroup(g, vg).Status.VirtualIPs).To(Equal("198.51.100.7"))
		}).Should(Succeed())
	})

	It("keeps the last good config when an update cannot be rendered", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.21")
		tc.addNode("h2", "198.51.100.22")
		vg := tc.vipGroup("vip", 70, "198.51.100.20")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		var good map[string][]byte
		Eventually(func(g Gomega) {
			good = configSecret(g, vg).Data
			g.Expect(good).To(HaveLen(2))
		}).Should(Succeed())

		for _, bad := range []struct {
			mutate func(*hacpv1.VIPGroup)
			msg    string
		}{
			{func(v *hacpv1.VIPGroup) { v.Spec.PasswordSecretRef = &hacpv1.SecretKeyReference{Name: "missing"} }, "Secret " + tc.ns + "/missing not found"},
			{func(v *hacpv1.VIPGroup) {
				v.Spec.StaticMembers = []hacpv1.StaticMember{{Name: "seed", Address: "198.51.100.21"}}
			}, "Duplicate value"},
		} {
			Eventually(func() error {
				cur := getVIPGroup(Default, vg)
				cur.Spec.PasswordSecretRef, cur.Spec.StaticMembers = nil, nil
				bad.mutate(cur)
				return k8sClient.Update(ctx, cur)
			}).Should(Succeed())
			Eventually(func(g Gomega) {
				got := getVIPGroup(g, vg)
				c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionConfigValid)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
				g.Expect(c.Message).To(ContainSubstring(bad.msg))
			}).Should(Succeed())
			Consistently(func(g Gomega) {
				g.Expect(configSecret(g, vg).Data).To(Equal(good), "a bad spec must not replace the running config")
			}, "1s", "200ms").Should(Succeed())
		}
	})

	It("generates a VRRP password once and keeps it", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.41")
		vg := tc.vipGroup("vip", 72, "198.51.100.40")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		var pw string
		Eventually(func(g Gomega) {
			var s corev1.Secret
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-vrrp-auth"}, &s)).To(Succeed())
			pw = string(s.Data["password"])
			g.Expect(pw).To(HaveLen(8))
			g.Expect(string(configSecret(g, vg).Data[tc.nodeName("h1")])).To(ContainSubstring("auth_pass " + pw))
		}).Should(Succeed())
		tc.addNode("h2", "198.51.100.42")
		Eventually(func(g Gomega) {
			g.Expect(configSecret(g, vg).Data).To(HaveLen(2))
		}).Should(Succeed())
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-vrrp-auth"}, &s)).To(Succeed())
		Expect(string(s.Data["password"])).To(Equal(pw))
		got := getVIPGroup(Default, vg)
		Expect(fmt.Sprint(got.Status)).NotTo(ContainSubstring(pw), "the password never appears in status")
	})

	It("lets the older of two groups keep a VRID on shared nodes", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.51")
		tc.addNode("h2", "198.51.100.52")
		first := tc.vipGroup("first", 90, "198.51.100.50")
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(configSecret(g, first).Data).To(HaveLen(2)) }).Should(Succeed())
		second := tc.vipGroup("second", 90, "198.51.100.59")
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, second)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionConflict)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring("VIPGroup " + tc.ns + "/first"))
		}).Should(Succeed())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "second-keepalived"}, &corev1.Secret{})).NotTo(Succeed(), "the newer group renders nothing")
		Expect(meta.IsStatusConditionFalse(getVIPGroup(Default, first).Status.Conditions, hacpv1.ConditionConflict)).To(BeTrue())

		By("changing the newer group's VRID resolves it")
		Eventually(func() error {
			cur := getVIPGroup(Default, second)
			cur.Spec.VirtualRouterID = 91
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionFalse(getVIPGroup(g, second).Status.Conditions, hacpv1.ConditionConflict)).To(BeTrue())
			g.Expect(configSecret(g, second).Data).To(HaveLen(2))
		}).Should(Succeed())
	})

	It("lets the older of two groups keep a virtual IP, whatever their VRIDs and nodes", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.151")
		edge := tc.label + "-edge"
		tc.createNode("h2", "198.51.100.152", map[string]string{"node-role.kubernetes.io/control-plane": "", "hacp-test": edge})
		first := tc.vipGroup("first", 94, "198.51.100.150")
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(configSecret(g, first).Data).To(HaveLen(1)) }).Should(Succeed())
		// Another VRID, on another node: both would still hold 198.51.100.150.
		second := tc.vipGroup("second", 95, "198.51.100.159", "198.51.100.150")
		second.Spec.NodeSelector = hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": "", "hacp-test": hacpv1.LabelValue(edge)}
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, second)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionConflict)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonVIPConflict))
			g.Expect(c.Message).To(ContainSubstring("virtual IP 198.51.100.150 is already claimed by VIPGroup " + tc.ns + "/first"))
			r := conditionOf(g, got.Status.Conditions, hacpv1.ConditionReady)
			g.Expect(r.Reason).To(Equal(hacpv1.ReasonVIPConflict))
		}).Should(Succeed())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "second-keepalived"}, &corev1.Secret{})).NotTo(Succeed(), "the newer group renders nothing")
		Expect(meta.IsStatusConditionFalse(getVIPGroup(Default, first).Status.Conditions, hacpv1.ConditionConflict)).To(BeTrue())

		By("dropping the contested address resolves it")
		Eventually(func() error {
			cur := getVIPGroup(Default, second)
			cur.Spec.VirtualIPs = []string{"198.51.100.159"}
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionFalse(getVIPGroup(g, second).Status.Conditions, hacpv1.ConditionConflict)).To(BeTrue())
			g.Expect(configSecret(g, second).Data).To(HaveKey(tc.nodeName("h2")))
		}).Should(Succeed())
	})

	It("reports both addresses of a dual-stack node", func() {
		tc := newTestCluster()
		// Long forms of both families: together they exceed what one address may take.
		v4, v6 := "198.51.100.171", "2001:db8:ffff:ffff:ffff:ffff:ffff:171"
		n := tc.addNode("h1", v4)
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: v6})
		Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
		vg := tc.vipGroup("dual", 96, "198.51.100.170", "2001:db8::170")
		vg.Spec.VRRPVersion = 3
		vg.Spec.AdvertisementIntervalMilliseconds = 1000
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.Nodes).To(HaveLen(1))
			g.Expect(got.Status.Nodes[0].Addresses).To(Equal([]string{v4, v6}))
		}).Should(Succeed())
		text := configSecret(Default, vg).Data[n.Name]
		reportAgent(vg, n.Name, "MASTER", keepalivedHash(text))
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, hacpv1.ConditionReady)).To(BeTrue())
			g.Expect(got.Status.Master).To(Equal(n.Name))
		}).Should(Succeed())
	})

	It("aggregates the agents' reports into master, node states and Ready", func() {
		tc := newTestCluster()
		names := []string{"h1", "h2", "h3"}
		for i, n := range names {
			tc.addNode(n, fmt.Sprintf("198.51.100.%d", 61+i))
		}
		vg := tc.vipGroup("vip", 93, "198.51.100.60")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		var hashes map[string]string
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			g.Expect(got.Status.Nodes).To(HaveLen(3))
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonNodesPending))
			hashes = map[string]string{}
			for name, text := range configSecret(g, vg).Data {
				hashes[name] = keepalivedHash(text)
			}
		}).Should(Succeed())

		reportAgent(vg, tc.nodeName("h1"), "MASTER", hashes[tc.nodeName("h1")])
		reportAgent(vg, tc.nodeName("h2"), "BACKUP", hashes[tc.nodeName("h2")])
		reportAgent(vg, tc.nodeName("h3"), "BACKUP", hashes[tc.nodeName("h3")])
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			g.Expect(got.Status.Master).To(Equal(tc.nodeName("h1")))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, hacpv1.ConditionReady)).To(BeTrue())
			for _, n := range got.Status.Nodes {
				g.Expect(n.ConfigHash).To(Equal(hashes[n.Name]))
			}
		}).Should(Succeed())

		By("h1 fails over to h2")
		reportAgent(vg, tc.nodeName("h1"), "FAULT", hashes[tc.nodeName("h1")])
		reportAgent(vg, tc.nodeName("h2"), "MASTER", hashes[tc.nodeName("h2")])
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			g.Expect(got.Status.Master).To(Equal(tc.nodeName("h2")))
			g.Expect(nodeStatusOf(got.Status, tc.nodeName("h1"))).To(HaveField("State", hacpv1.VRRPStateFault))
		}).Should(Succeed())

		By("two masters at once is reported, not hidden")
		reportAgent(vg, tc.nodeName("h3"), "MASTER", hashes[tc.nodeName("h3")])
		Eventually(func(g Gomega) {
			c := conditionOf(g, getVIPGroup(g, vg).Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonMultipleMasters))
			g.Expect(c.Message).To(ContainSubstring("2 nodes claim MASTER"))
		}).Should(Succeed())
	})

	It("does not count the last MASTER report of a node that is gone", func() {
		tc, vg, hashes := twoNodeGroup(98, 181, "198.51.100.180")
		h1, h2 := tc.nodeName("h1"), tc.nodeName("h2")
		reportAgent(vg, h1, "MASTER", hashes[h1])
		reportAgent(vg, h2, "BACKUP", hashes[h2])
		Eventually(func(g Gomega) { g.Expect(getVIPGroup(g, vg).Status.Master).To(Equal(h1)) }).Should(Succeed())

		By("h1 loses power: its agent says nothing more, h2 takes over, h1's Node goes NotReady")
		reportAgent(vg, h2, "MASTER", hashes[h2])
		setNodeReady(h1, false)
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
			g.Expect(c.Message).To(ContainSubstring("not heard from (node not Ready, reports not counted): " + h1))
			g.Expect(got.Status.Master).To(Equal(h2))
			g.Expect(nodeStatusOf(got.Status, h1)).To(SatisfyAll(
				HaveField("State", hacpv1.VRRPStateUnknown),
				HaveField("Message", ContainSubstring("its agent's last report is not counted (it said MASTER)"))))
		}).Should(Succeed())
	})

	It("stops counting a report whose agent stopped refreshing it, long before its Node turns NotReady", func() {
		tc, vg, hashes := twoNodeGroup(99, 191, "198.51.100.190")
		h1, h2 := tc.nodeName("h1"), tc.nodeName("h2")
		reportAgent(vg, h1, "MASTER", hashes[h1])
		powerOffH1 := heartbeat(vg, h1)
		reportAgent(vg, h2, "MASTER", hashes[h2])
		heartbeat(vg, h2)

		By("both agents alive and both claiming MASTER: a split brain, whatever the claims' ages")
		splitBrain := func(g Gomega) {
			c := conditionOf(g, getVIPGroup(g, vg).Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonSplitBrain), c.Message)
		}
		Eventually(splitBrain).Should(Succeed())
		Consistently(splitBrain, StaleAfter+2*time.Second, time.Second).Should(Succeed())

		By("h1 loses power: its agent stops, its Node still says Ready (kubelet's grace period)")
		powerOffH1()
		lost := time.Now()
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
			g.Expect(got.Status.Master).To(Equal(h2))
			g.Expect(nodeStatusOf(got.Status, h1)).To(SatisfyAll(
				HaveField("Unheard", true),
				HaveField("State", hacpv1.VRRPStateUnknown),
				HaveField("Message", ContainSubstring("its agent has not reported for"))))
		}, StaleAfter+10*time.Second, 250*time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("h1's silent MASTER report stopped counting %s after its last heartbeat\n", time.Since(lost).Round(100*time.Millisecond))
	})

	It("waits for an agent to report its interface when the spec names none", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.71")
		tc.addNode("h2", "198.51.100.72")
		vg := tc.vipGroup("vip", 95, "198.51.100.70")
		vg.Spec.Interface = ""
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(configSecret(g, vg).Data).To(BeEmpty())
			var ds appsv1.DaemonSet
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-keepalived"}, &ds)).To(Succeed())
		}).Should(Succeed())
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "agent-h1", Namespace: tc.ns, Labels: agentLabels(vg), Annotations: map[string]string{contract.AnnotationInterface: "ens3"}},
			Spec:       corev1.PodSpec{NodeName: tc.nodeName("h1"), Containers: []corev1.Container{{Name: "agent", Image: "hacp:test"}}},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Eventually(func(g Gomega) {
			data := configSecret(g, vg).Data
			g.Expect(data).To(HaveLen(1))
			g.Expect(string(data[tc.nodeName("h1")])).To(ContainSubstring("interface ens3"))
		}).Should(Succeed())
	})

	It("owns everything it makes, so deleting the VIPGroup removes it", func() {
		// The owner references the garbage collector acts on (gc_test.go runs the real one).
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.81")
		vg := tc.vipGroup("vip", 97, "198.51.100.80")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(configSecret(g, vg).Data).To(HaveLen(1))
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "vip-keepalived"}, &appsv1.DaemonSet{})).To(Succeed())
		}).Should(Succeed())
		uid := getVIPGroup(Default, vg).UID
		for _, o := range []struct {
			obj  client.Object
			name string
		}{
			{&appsv1.DaemonSet{}, "vip-keepalived"},
			{&corev1.ServiceAccount{}, "vip-hacp-agent"},
			{&rbacv1.Role{}, "vip-hacp-agent"},
			{&rbacv1.RoleBinding{}, "vip-hacp-agent"},
		} {
			obj, name := o.obj, o.name
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: name}, obj)).To(Succeed())
			Expect(obj.GetOwnerReferences()).To(ContainElement(SatisfyAll(HaveField("UID", uid), HaveField("Controller", ptr.To(true)))), "%T %s", obj, name)
		}
		for _, name := range []string{"vip-keepalived", "vip-vrrp-auth"} {
			var s corev1.Secret
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: name}, &s)).To(Succeed())
			Expect(s.OwnerReferences).To(ContainElement(HaveField("UID", uid)), name)
		}
		Expect(k8sClient.Delete(ctx, vg)).To(Succeed())
	})
})

func keepalivedHash(text []byte) string {
	return keepalived.HashConfig(text)
}
