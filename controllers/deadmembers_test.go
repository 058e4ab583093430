package controllers

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/etcdcluster"
)

var _ = Describe("Dead etcd members", func() {
	It("removes a dead member of a real etcd cluster only once its Node is deleted and the grace period has passed", func() {
		tc := newTestCluster()
		names := []string{tc.nodeName("h1"), tc.nodeName("h2"), tc.nodeName("h3")}
		var nodes []*corev1.Node
		for i := range names {
			nodes = append(nodes, tc.addNode(fmt.Sprintf("h%d", i+1), fmt.Sprintf("198.51.100.%d", 131+i)))
		}
		etcd := etcdcluster.Start(GinkgoT(), names...)
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "etcd-client", Namespace: tc.ns},
			Data:       map[string][]byte{"ca.crt": etcd.CA, "tls.crt": etcd.ClientCert, "tls.key": etcd.ClientKey},
		})).To(Succeed())
		h := tc.haControlPlane("cp")
		h.Spec.Etcd = &hacpv1.EtcdAccess{
			Endpoints:             etcd.Endpoints(),
			ClientSecretRef:       &hacpv1.LocalObjectReference{Name: "etcd-client"},
			RemoveDeadMembers:     hacpv1.DeadMemberRemovalEnabled,
			DeadMemberGracePeriod: &metav1.Duration{Duration: time.Minute},
		}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1)
			g.Expect(got.Status.DeadMembers).To(BeEmpty())
		}, "30s").Should(Succeed())

		deadOf := func(g Gomega) hacpv1.DeadMemberStatus {
			got := getHCP(g, h)
			g.Expect(got.Status.DeadMembers).To(HaveLen(1))
			return got.Status.DeadMembers[0]
		}

		By("h3 powers off for good: kept while its Node exists")
		etcd.Kill(etcd.Members[2])
		Eventually(func(g Gomega) {
			d := deadOf(g)
			g.Expect(d.Name).To(Equal(names[2]))
			g.Expect(d.Decision).To(Equal("Kept"))
			g.Expect(d.Reason).To(ContainSubstring("its Node " + names[2] + " still exists"))
		}, "20s").Should(Succeed())
		Eventually(func(g Gomega) { expectQuorum(g, h, hacpv1.ReasonAtRisk, 3, 2, 0) }, "20s").Should(Succeed())

		By("kubectl delete node h3: kept until the grace period has passed")
		Expect(k8sClient.Delete(ctx, nodes[2])).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(deadOf(g).Reason).To(ContainSubstring("less than the grace period 1m0s"))
		}, "20s").Should(Succeed())

		By("the grace period passes: the member goes, and tolerance follows the new membership")
		fakeClock.Step(2 * time.Minute)
		Eventually(func(g Gomega) {
			got := getHCP(g, h)
			g.Expect(got.Status.Quorum).NotTo(BeNil())
			g.Expect(*got.Status.Quorum).To(Equal(hacpv1.QuorumStatus{Voters: 2, Healthy: 2, Quorum: 2, FailureTolerance: 0}))
		}, "30s").Should(Succeed())
		cli := etcdClient(etcd)
		defer cli.Close()
		list, err := cli.MemberList(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Members).To(HaveLen(2))
		for _, m := range list.Members {
			Expect(m.Name).NotTo(Equal(names[2]))
		}
		var events eventsv1.EventList
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.List(ctx, &events)).To(Succeed())
			found := false
			for _, e := range events.Items {
				if e.Regarding.Name == h.Name && e.Regarding.Namespace == h.Namespace && e.Reason == "RemovedDeadMember" {
					found = true
				}
			}
			g.Expect(found).To(BeTrue())
		}, "10s").Should(Succeed())

		By("h2 dies too: 1 of 2 voters healthy, no quorum, nothing is removed")
		etcd.Kill(etcd.Members[1])
		Expect(k8sClient.Delete(ctx, nodes[1])).To(Succeed())
		Eventually(func(g Gomega) { g.Expect(deadOf(g).Name).To(Equal(names[1])) }, "20s").Should(Succeed())
		fakeClock.Step(2 * time.Minute)
		Eventually(func(g Gomega) {
			d := deadOf(g)
			g.Expect(d.Name).To(Equal(names[1]))
			g.Expect(d.Decision).To(Equal("Kept"))
			g.Expect(d.Reason).To(ContainSubstring("no quorum"))
		}, "20s").Should(Succeed())
		// Without quorum only a serializable read answers.
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		list, err = cli.MemberList(lctx, clientv3.WithSerializable())
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Members).To(HaveLen(2))
	})
})
