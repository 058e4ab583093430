package controllers

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/bootstrap"
	"hacp.dev/hacp/internal/contract"
)

// standbyMirror creates the mirror Pod kubelet makes for node's standby static Pod (from the
// manifest the agent writes) and sets its readiness as kubelet would: Ready while the standby
// runs keepalived.
func standbyMirror(vg *hacpv1.VIPGroup, node string, ready bool) {
	GinkgoHelper()
	p := bootstrap.StandbyPod(bootstrap.StandbyOptions{Image: "hacp:test", Namespace: vg.Namespace, Name: vg.Name})
	p.TypeMeta = metav1.TypeMeta{}
	p.Name += "-" + node
	p.Spec.NodeName = node
	p.Annotations["kubernetes.io/config.mirror"] = "0123456789abcdef"
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	if err := k8sClient.Get(ctx, key, &corev1.Pod{}); err != nil {
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, p) })
	}
	Expect(k8sClient.Get(ctx, key, p)).To(Succeed())
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
}

var _ = Describe("The node-local standby", func() {
	hostPaths := func(ds *appsv1.DaemonSet) []string {
		var out []string
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.HostPath != nil {
				out = append(out, v.HostPath.Path)
			}
		}
		return out
	}
	It("is kept by the agents of a VIPGroup that serves an HAControlPlane's endpoint, and only those", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.251")
		vg := tc.vipGroup("vip", 97, "198.51.100.250")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		ds := &appsv1.DaemonSet{}
		key := types.NamespacedName{Namespace: vg.Namespace, Name: daemonSetName(vg)}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, ds)).To(Succeed())
			g.Expect(hostPaths(ds)).To(BeEmpty())
			g.Expect(strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " ")).NotTo(ContainSubstring("--standby-image"))
		}).Should(Succeed())

		By("an HAControlPlane names it: the agents keep the last good config and the standby static Pod on the host")
		h := tc.haControlPlane("cp")
		h.Spec.VIPGroupRef = &hacpv1.LocalObjectReference{Name: vg.Name}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, ds)).To(Succeed())
			g.Expect(hostPaths(ds)).To(ConsistOf("/etc/hacp/standby", "/etc/kubernetes/manifests"))
			args := strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " ")
			g.Expect(args).To(ContainSubstring("--vipgroup=vip"))
			g.Expect(args).To(ContainSubstring("--standby-image=" + ds.Spec.Template.Spec.Containers[0].Image))
		}).Should(Succeed())

		By("the HAControlPlane goes: new agents keep no standby (what is on the nodes stays; see the README's removal)")
		Expect(k8sClient.Delete(ctx, h)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, ds)).To(Succeed())
			g.Expect(hostPaths(ds)).To(BeEmpty())
		}).Should(Succeed())
	})

	It("shows a node whose standby runs keepalived, from kubelet's readiness of the standby's mirror Pod", func() {
		tc, vg, hashes := twoNodeGroup(101, 221, "198.51.100.220")
		h1, h2 := tc.nodeName("h1"), tc.nodeName("h2")
		reportAgent(vg, h1, "MASTER", hashes[h1])
		reportAgent(vg, h2, "BACKUP", hashes[h2])
		stopH1 := heartbeat(vg, h1)
		stopH2 := heartbeat(vg, h2)
		// Both standbys exist and are idle (not Ready) while the agents run.
		standbyMirror(vg, h1, false)
		standbyMirror(vg, h2, false)
		Eventually(func(g Gomega) {
			st := getVIPGroup(g, vg).Status
			g.Expect(conditionOf(g, st.Conditions, hacpv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(nodeStatusOf(st, h2).Standby).To(BeFalse())
			// A heartbeat written: from now on, silence means the agent stopped.
			p := &corev1.Pod{}
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: vg.Name + "-agent-" + h2}, p)).To(Succeed())
			g.Expect(p.Annotations).To(HaveKey(contract.AnnotationReportedAt))
		}).Should(Succeed())

		By("h2's agent Pod is replaced by one whose image cannot be pulled (no report at all), and its standby runs keepalived")
		stopH2()
		old := &corev1.Pod{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: vg.Name + "-agent-" + h2}, old)).To(Succeed())
		Expect(k8sClient.Delete(ctx, old)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(old), &corev1.Pod{}))
		}).Should(BeTrue())
		never := old.DeepCopy()
		never.ObjectMeta = metav1.ObjectMeta{Name: old.Name + "-next", Namespace: old.Namespace, Labels: old.Labels}
		never.Spec.NodeName = h2
		Expect(k8sClient.Create(ctx, never)).To(Succeed())
		standbyMirror(vg, h2, true)
		Eventually(func(g Gomega) {
			st := getVIPGroup(g, vg).Status
			n := nodeStatusOf(st, h2)
			g.Expect(*n).To(HaveField("Standby", BeTrue()))
			g.Expect(n.State).To(Equal(hacpv1.VRRPStateUnknown))
			g.Expect(n.Message).To(ContainSubstring("its standby runs keepalived"))
			ready := conditionOf(g, st.Conditions, hacpv1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
			g.Expect(ready.Message).To(ContainSubstring("the DaemonSet's agent is not running on " + h2))
			g.Expect(st.Master).To(Equal(h1))
		}, 30*time.Second).Should(Succeed())

		By("h1's agent stops too: no agent reports MASTER, and h1's standby may hold the VIPs")
		stopH1() // h1's heartbeats have been written since long before h2's stopped
		standbyMirror(vg, h1, true)
		Eventually(func(g Gomega) {
			st := getVIPGroup(g, vg).Status
			g.Expect(nodeStatusOf(st, h1).Standby).To(BeTrue())
			ready := conditionOf(g, st.Conditions, hacpv1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionUnknown))
			g.Expect(ready.Reason).To(Equal(hacpv1.ReasonStandbyServing))
		}, 30*time.Second).Should(Succeed())

		By("the agents return and take over: the standbys go idle")
		Expect(k8sClient.Delete(ctx, never)).To(Succeed())
		reportAgent(vg, h1, "MASTER", hashes[h1])
		reportAgent(vg, h2, "BACKUP", hashes[h2])
		heartbeat(vg, h1)
		heartbeat(vg, h2)
		standbyMirror(vg, h1, false)
		standbyMirror(vg, h2, false)
		Eventually(func(g Gomega) {
			st := getVIPGroup(g, vg).Status
			g.Expect(nodeStatusOf(st, h1).Standby).To(BeFalse())
			g.Expect(nodeStatusOf(st, h2).Standby).To(BeFalse())
			g.Expect(conditionOf(g, st.Conditions, hacpv1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, 30*time.Second).Should(Succeed())
	})
})
