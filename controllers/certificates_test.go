package controllers

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/test/pki"
)

// The suite's Nodes have addresses outside this machine, so the suite's manager reads served
// certificates only from TLS servers that specs start on loopback and register here by node and
// component: real handshakes with real servers, never a dial to a Node's own address.
var testCertServers sync.Map // "node/component" -> loopback address

var readTestCertificates = certexpiry.ReadVia(func(t certexpiry.Target) (string, bool) {
	addr, ok := testCertServers.Load(t.Node + "/" + string(t.Component))
	if !ok {
		return "", false
	}
	return addr.(string), true
})

func serveCert(node string, comp certexpiry.Component, notAfter time.Time) {
	GinkgoHelper()
	addr, stop, err := pki.ServeTLS(string(comp), notAfter, comp != certexpiry.APIServer)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	testCertServers.Store(node+"/"+string(comp), addr)
	DeferCleanup(func() { testCertServers.Delete(node + "/" + string(comp)) })
}

var _ = Describe("HAControlPlane certificate expiry", func() {
	It("names the served certificate that expires within warnBefore, and clears once a renewed one is served", func() {
		tc := newTestCluster()
		h1, h2 := tc.nodeName("h1"), tc.nodeName("h2")
		day := 24 * time.Hour
		now := fakeClock.Now().UTC().Truncate(time.Second)
		etcdExpiry := now.Add(10 * day)
		serveCert(h1, certexpiry.APIServer, now.Add(300*day))
		serveCert(h1, certexpiry.EtcdServer, etcdExpiry)
		serveCert(h1, certexpiry.EtcdPeer, now.Add(300*day))
		serveCert(h1, certexpiry.Kubelet, now.Add(200*day))
		serveCert(h2, certexpiry.APIServer, now.Add(300*day))
		serveCert(h2, certexpiry.EtcdServer, now.Add(300*day))
		serveCert(h2, certexpiry.EtcdPeer, now.Add(300*day))
		// h2's kubelet is not reachable: listed as unreadable, not counted as expiring.
		// The Nodes come after the servers: other specs' HAControlPlanes select every control-plane
		// Node and would otherwise read (and cache) these nodes' certificates before they are served.
		tc.addNode("h1", "198.51.100.11")
		tc.addNode("h2", "198.51.100.12")

		h := tc.haControlPlane("certs")
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, h) })
		Eventually(func(g Gomega) {
			got := getHCP(g, h)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionCertificatesValid)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonExpiringSoon))
			g.Expect(c.Message).To(ContainSubstring("etcd-server on " + h1 + " expires on " + etcdExpiry.Format(time.RFC3339)))
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(got.Status.EarliestCertificateExpiry).NotTo(BeNil())
			g.Expect(got.Status.EarliestCertificateExpiry.Time.Equal(etcdExpiry)).To(BeTrue(), "earliest %s", got.Status.EarliestCertificateExpiry)
			// Served certificates of this spec's nodes; the cluster CA of cluster-info joins them when
			// another spec has created it.
			var served []hacpv1.CertificateStatus
			for _, c := range got.Status.Certificates {
				if c.Node != "" {
					served = append(served, c)
				} else {
					g.Expect(c.Component).To(Equal("cluster-ca"))
				}
			}
			g.Expect(served).To(HaveLen(8))
			first := served[0]
			g.Expect([]string{first.Node, first.Component, first.Severity}).To(Equal([]string{h1, "etcd-server", "ExpiringSoon"}))
			last := served[7]
			g.Expect([]string{last.Node, last.Component, last.Severity}).To(Equal([]string{h2, "kubelet", "Unreadable"}))
			g.Expect(last.NotAfter).To(BeNil())
		}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
		Expect(testutil.ToFloat64(metricCertificateExpiry.WithLabelValues(tc.ns, "certs", h1, "etcd-server"))).To(Equal(float64(etcdExpiry.Unix())))

		By("etcd on h1 serves a renewed certificate")
		serveCert(h1, certexpiry.EtcdServer, now.Add(365*day))
		fakeClock.Step(2 * time.Second) // past the suite's certificate period: read again
		Eventually(func(g Gomega) {
			got := getHCP(g, h)
			c := conditionOf(g, got.Status.Conditions, hacpv1.ConditionCertificatesValid)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
			g.Expect(c.Message).To(ContainSubstring("some could not be read"))
			g.Expect(got.Status.EarliestCertificateExpiry.Time.Equal(now.Add(200 * day))).To(BeTrue())
		}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	})
})
