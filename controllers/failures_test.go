package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/pki"
)

// controlledByOther returns an owner reference to a fresh ConfigMap of ns as controller.
func controlledByOther(ns string) []metav1.OwnerReference {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "squatter", Namespace: ns}}
	Expect(k8sClient.Create(ctx, cm)).To(Succeed())
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID, Controller: ptr.To(true)}}
}

// ensureClusterInfo creates kube-public/cluster-info for this spec unless it exists.
func ensureClusterInfo() {
	var ci corev1.ConfigMap
	if k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-public", Name: "cluster-info"}, &ci) == nil {
		return
	}
	ca, err := pki.NewCA("kubernetes")
	Expect(err).NotTo(HaveOccurred())
	created := clusterInfo(ca.CertPEM)
	Expect(k8sClient.Create(ctx, created)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, created) })
}

var _ = Describe("Failures reach status", func() {
	It("a VIPGroup whose DaemonSet cannot be applied says so in Ready", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.231")
		vg := tc.vipGroup("vip", 97, "198.51.100.230")
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: vg.Name + "-keepalived", Namespace: tc.ns, OwnerReferences: controlledByOther(tc.ns)},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "other"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "other"}}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, ds)).To(Succeed())
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getVIPGroup(g, vg)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonApplyFailed))
			g.Expect(c.Message).To(ContainSubstring("applying the DaemonSet vip-keepalived"))
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
		}).Should(Succeed())
	})

	It("an HAControlPlane whose join Secret cannot be published says so in JoinMaterialReady", func() {
		ensureClusterInfo()
		tc := newTestCluster()
		h := tc.haControlPlane("cp")
		js := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: joinSecretName(h), Namespace: tc.ns, OwnerReferences: controlledByOther(tc.ns)}}
		Expect(k8sClient.Create(ctx, js)).To(Succeed())
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		Eventually(func(g Gomega) {
			c := joinCondition(g, h)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonFailed))
			g.Expect(c.Message).To(ContainSubstring("publishing the join Secret"))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, h)).To(Succeed())
	})
})
