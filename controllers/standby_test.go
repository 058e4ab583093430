package controllers

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

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
})
