package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// An agent's RBAC lets it patch every Pod of its namespace (DaemonSet Pod names cannot be listed);
// config/agent-policy narrows that to its own Pod by its token's pod-name claim. Tested by
// impersonating an agent's bound token: a stolen token cannot rewrite another node's report, nor
// kube-proxy's or a mirror Pod, nor relabel its own Pod.
var _ = Describe("Agent admission policy", func() {
	It("lets an agent write only its own Pod's annotations", func() {
		for _, u := range kustomizeBuild("agent-policy") {
			Expect(k8sClient.Patch(ctx, u.DeepCopy(), client.Apply, client.FieldOwner("policy-test"), client.ForceOwnership)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, u) })
		}
		ns := newNamespace()
		vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: "policy", Namespace: ns}}
		sa, role, rb := desiredAgentRBAC(vg)
		for _, o := range []client.Object{sa, role, rb} {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		pod := func(name string, labels map[string]string) *corev1.Pod {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "hacp:test"}}}}
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
			return p
		}
		own := pod("policy-keepalived-h1", agentLabels(vg))
		other := pod("policy-keepalived-h2", agentLabels(vg))
		proxy := pod("kube-proxy-h1", map[string]string{"k8s-app": "kube-proxy"})

		// A token bound to the agent Pod on h1, as kubelet mounts it.
		c := rest.CopyConfig(cfg)
		c.Impersonate = rest.ImpersonationConfig{
			UserName: "system:serviceaccount:" + ns + ":" + sa.Name,
			Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			Extra:    map[string][]string{"authentication.kubernetes.io/pod-name": {own.Name}},
		}
		agent, err := client.New(c, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		report := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"hacp.dev/state":"MASTER"}}}`))

		By("its own Pod: allowed (the policy takes a moment to take effect: a dry run on the other Pod shows when)")
		Eventually(func(g Gomega) {
			err := agent.Patch(ctx, other.DeepCopy(), report, client.DryRunAll)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring("an hacp agent may write only its own Pod, not " + ns + "/" + other.Name))
		}).Should(Succeed())
		Expect(agent.Patch(ctx, own.DeepCopy(), report)).To(Succeed())

		By("another node's agent Pod, kube-proxy's Pod, its own labels: denied")
		for _, p := range []*corev1.Pod{other, proxy} {
			err := agent.Patch(ctx, p.DeepCopy(), report)
			Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", p.Name, err)
		}
		relabel := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"component":"etcd"}}}`))
		err = agent.Patch(ctx, own.DeepCopy(), relabel)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not change its Pod's labels"))

		By("a token of the same ServiceAccount not bound to a Pod: denied")
		c.Impersonate.Extra = nil
		unbound, err := client.New(c, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		Expect(unbound.Patch(ctx, own.DeepCopy(), report)).NotTo(Succeed())

		var got corev1.Pod
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(other), &got)).To(Succeed())
		Expect(got.Annotations).NotTo(HaveKey("hacp.dev/state"))
	})
})
