package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clientv3 "go.etcd.io/etcd/client/v3"
	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/etcdcluster"
)

// addMirrorPod creates a kubeadm-style static pod's mirror in kube-system on node.
func addMirrorPod(component, node string, ready bool, annotations map[string]string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: component + "-" + node, Namespace: "kube-system",
			Labels:      map[string]string{"component": component, "tier": "control-plane"},
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: component, Image: "registry.k8s.io/" + component}}},
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, p) })
	setPodReady(p, ready)
	return p
}

func setPodReady(p *corev1.Pod, ready bool) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	Eventually(func() error {
		var cur corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &cur); err != nil {
			return err
		}
		cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
		return k8sClient.Status().Update(ctx, &cur)
	}).Should(Succeed())
}

func setNodeReady(name string, ready bool) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	Eventually(func() error {
		var n corev1.Node
		if err := k8sClient.Get(ctx, types.NamespacedName{Name: name}, &n); err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "Test", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		return k8sClient.Status().Update(ctx, &n)
	}).Should(Succeed())
}

func (tc *testCluster) haControlPlane(name string) *hacpv1.HAControlPlane {
	return &hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tc.ns},
		Spec: hacpv1.HAControlPlaneSpec{
			ControlPlaneEndpoint: "198.51.100.8:6443",
			ControlPlaneSelector: hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": "", "hacp-test": hacpv1.LabelValue(tc.label)},
		},
	}
}

func getHCP(g Gomega, h *hacpv1.HAControlPlane) *hacpv1.HAControlPlane {
	var out hacpv1.HAControlPlane
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(h), &out)).To(Succeed())
	return &out
}

func expectQuorum(g Gomega, h *hacpv1.HAControlPlane, reason string, voters, healthy, tolerance int32) *hacpv1.HAControlPlane {
	got := getHCP(g, h)
	g.Expect(got.Status.Quorum).NotTo(BeNil())
	g.Expect(*got.Status.Quorum).To(Equal(hacpv1.QuorumStatus{Voters: voters, Healthy: healthy, Quorum: voters/2 + 1, FailureTolerance: tolerance}))
	c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionQuorumHealthy)
	g.Expect(c.Reason).To(Equal(reason), c.Message)
	g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
	return got
}

func whatIfMessages(h *hacpv1.HAControlPlane) []string {
	var out []string
	for _, w := range h.Status.WhatIf {
		out = append(out, w.Message)
	}
	return out
}

var _ = Describe("HAControlPlane quorum health", func() {
	It("answers the seed's questions from kubeadm's mirror pods", func() {
		tc := newTestCluster()
		for i, n := range []string{"h1", "h2", "h3"} {
			node := tc.addNode(n, fmt.Sprintf("198.51.100.%d", 111+i))
			addMirrorPod("etcd", node.Name, true, map[string]string{etcdAnnotation: "https://198.51.100.1:2379"})
			addMirrorPod("kube-apiserver", node.Name, true, nil)
		}
		tc.addWorker("h4", "198.51.100.116")
		h := tc.haControlPlane("cp")
		Expect(k8sClient.Create(ctx, h)).To(Succeed())

		h2, h3 := tc.nodeName("h2"), tc.nodeName("h3")
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1)
			g.Expect(meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionQuorumHealthy).Message).To(ContainSubstring("membership unverified"), "without etcd access, status says what it cannot know")
			g.Expect(got.Status.Members).To(HaveLen(3), "the worker is not a member")
			g.Expect(got.Status.ReadyMembers).To(Equal("3/3"))
			g.Expect(got.Status.EtcdSummary).To(Equal("3/3"), "healthy/voters")
			g.Expect(got.Status.Tolerance).To(Equal("1"))
			g.Expect(whatIfMessages(got)).To(ContainElement(fmt.Sprintf("if %s fails: the control plane keeps working (etcd keeps 2 of 3 voters, 2 needed)", h3)))
			g.Expect(whatIfMessages(got)).To(ContainElement(fmt.Sprintf("if %s and %s fail: etcd quorum lost (1 of 3 voters left, 2 needed); the API stops serving (no etcd quorum)", h2, h3)))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, hacpv1.ConditionAvailable)).To(BeTrue())
			c := meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionQuorumHealthy)
			g.Expect(c.Message).To(ContainSubstring("from kubeadm's etcd mirror pods"))
		}).Should(Succeed())

		By("h3 fails: the cluster still works, with no room left")
		setNodeReady(h3, false)
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonAtRisk, 3, 2, 0)
			g.Expect(got.Status.ReadyMembers).To(Equal("2/3"))
			g.Expect(got.Status.EtcdSummary).To(Equal("2/3"))
			g.Expect(got.Status.Tolerance).To(Equal("0"))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, hacpv1.ConditionAvailable)).To(BeTrue())
			g.Expect(whatIfMessages(got)).To(ContainElement(fmt.Sprintf("if %s fails: etcd quorum lost (1 of 3 voters left, 2 needed); the API stops serving (no etcd quorum)", h2)))
		}).Should(Succeed())

		By("then h2 fails: quorum is lost")
		setNodeReady(h2, false)
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorumLost, 3, 1, -1)
			g.Expect(got.Status.EtcdSummary).To(Equal("1/3"))
			g.Expect(got.Status.Tolerance).To(Equal(hacpv1.ToleranceLost), "never -1")
			c := meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionAvailable)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Message).To(ContainSubstring("etcd has lost quorum"))
		}).Should(Succeed())

		By("both return")
		setNodeReady(h2, true)
		setNodeReady(h3, true)
		Eventually(func(g Gomega) { expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1) }).Should(Succeed())
	})

	It("reaches etcd with kubeadm's own client certificate from the PKI directory when spec.etcd names no Secret", func() {
		tc := newTestCluster()
		names := []string{tc.nodeName("h1"), tc.nodeName("h2"), tc.nodeName("h3")}
		for i := range names {
			tc.addNode(fmt.Sprintf("h%d", i+1), fmt.Sprintf("198.51.100.%d", 131+i))
		}
		etcd := etcdcluster.Start(GinkgoT(), names...)
		h := tc.haControlPlane("cp")
		pki := GinkgoT().TempDir()
		h.Spec.JoinMaterial.PKIDirectory = pki
		h.Spec.Etcd = &hacpv1.EtcdAccess{Endpoints: etcd.Endpoints()}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())

		By("the files are not there (the manager deployed without CONFIG=with-pki): the status says so")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(getHCP(g, h).Status.Conditions, hacpv1.ConditionQuorumHealthy)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Message).To(ContainSubstring("CONFIG=with-pki"))
		}).Should(Succeed())

		By("kubeadm's layout: etcd/ca.crt, apiserver-etcd-client.crt and .key")
		Expect(os.MkdirAll(filepath.Join(pki, "etcd"), 0o700)).To(Succeed())
		for name, data := range map[string][]byte{"etcd/ca.crt": etcd.CA, "apiserver-etcd-client.crt": etcd.ClientCert, "apiserver-etcd-client.key": etcd.ClientKey} {
			Expect(os.WriteFile(filepath.Join(pki, name), data, 0o600)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1)
			c := meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionQuorumHealthy)
			g.Expect(c.Message).To(ContainSubstring("from the etcd member list"))
		}, "30s").Should(Succeed())
	})

	It("follows a real etcd cluster: members killed and restarted, a learner, a stale member", func() {
		tc := newTestCluster()
		names := []string{tc.nodeName("h1"), tc.nodeName("h2"), tc.nodeName("h3")}
		for i := range names {
			tc.addNode(fmt.Sprintf("h%d", i+1), fmt.Sprintf("198.51.100.%d", 121+i))
		}
		etcd := etcdcluster.Start(GinkgoT(), names...)
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "etcd-client", Namespace: tc.ns},
			Data:       map[string][]byte{"ca.crt": etcd.CA, "tls.crt": etcd.ClientCert, "tls.key": etcd.ClientKey},
		}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		h := tc.haControlPlane("cp")
		h.Spec.Etcd = &hacpv1.EtcdAccess{Endpoints: etcd.Endpoints(), ClientSecretRef: &hacpv1.LocalObjectReference{Name: "etcd-client"}}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())

		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1)
			for _, m := range got.Status.Members {
				g.Expect(m.EtcdMemberID).NotTo(BeEmpty())
				g.Expect(m.EtcdHealthy).To(BeTrue())
			}
			c := meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionQuorumHealthy)
			g.Expect(c.Message).To(ContainSubstring("from the etcd member list"))
		}, "30s").Should(Succeed())

		By("a learner joins: it is listed, but does not vote")
		cli := etcdClient(etcd)
		defer cli.Close()
		// etcd refuses reconfiguration until its members have been connected for a few seconds.
		var learner *clientv3.MemberAddResponse
		Eventually(func() (err error) {
			learner, err = cli.MemberAddAsLearner(ctx, []string{"https://127.0.0.1:1"})
			return err
		}, "20s", "500ms").Should(Succeed())
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1)
			var learners int
			for _, m := range got.Status.Members {
				if m.Learner {
					learners++
				}
			}
			g.Expect(learners).To(Equal(1))
		}, "20s").Should(Succeed())
		_, err := cli.MemberRemove(ctx, learner.Member.ID)
		Expect(err).NotTo(HaveOccurred())

		By("a stale voter (a member that never runs) raises the quorum")
		var stale *clientv3.MemberAddResponse
		Eventually(func() (err error) {
			stale, err = cli.MemberAdd(ctx, []string{"https://127.0.0.1:2"})
			return err
		}, "20s", "500ms").Should(Succeed())
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonAtRisk, 4, 3, 0)
			c := meta.FindStatusCondition(got.Status.Conditions, hacpv1.ConditionQuorumHealthy)
			g.Expect(c.Message).To(ContainSubstring("has no control-plane Node"))
			g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("etcdctl member remove %x", stale.Member.ID)))
		}, "20s").Should(Succeed())
		_, err = cli.MemberRemove(ctx, stale.Member.ID)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) { expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1) }, "20s").Should(Succeed())

		By("SIGKILL one member: AtRisk, tolerance 0")
		etcd.Kill(etcd.Members[2])
		Eventually(func(g Gomega) { expectQuorum(g, h, hacpv1.ReasonAtRisk, 3, 2, 0) }, "20s").Should(Succeed())

		By("SIGKILL a second: QuorumLost; the survivor answers but has no leader, so it is not healthy")
		etcd.Kill(etcd.Members[1])
		Eventually(func(g Gomega) {
			got := expectQuorum(g, h, hacpv1.ReasonQuorumLost, 3, 0, -2)
			g.Expect(strings.Join(whatIfMessages(got), "\n")).To(ContainSubstring("etcd quorum lost"))
		}, "20s").Should(Succeed())

		By("restart both: Quorate")
		etcd.StartMember(etcd.Members[1])
		etcd.StartMember(etcd.Members[2])
		Eventually(func(g Gomega) { expectQuorum(g, h, hacpv1.ReasonQuorate, 3, 3, 1) }, "30s").Should(Succeed())
	})
})
