package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestRefreshed(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, statusRefresh}, {time.Second, time.Second}, {10 * time.Minute, statusRefresh},
	} {
		if got := refreshed(ctrl.Result{RequeueAfter: tc.in}).RequeueAfter; got != tc.want {
			t.Errorf("refreshed(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	at := time.Date(2026, 11, 30, 12, 0, 17, 500, time.UTC)
	if got := observedStep(at); !got.Equal(time.Date(2026, 11, 30, 12, 0, 10, 0, time.UTC)) {
		t.Errorf("observedStep(%s) = %s", at, got)
	}
}

var _ = Describe("A status nobody refreshes", func() {
	It("is recognisable: both kinds carry lastObservedTime, shown as the Observed column", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.141")
		h := tc.haControlPlane("observed")
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		vg := tc.vipGroup("observed", 141, "198.51.100.240")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		Eventually(func(g Gomega) {
			got := getHCP(g, h)
			g.Expect(got.Status.LastObservedTime).NotTo(BeNil())
			g.Expect(time.Since(got.Status.LastObservedTime.Time)).To(BeNumerically("<", time.Minute))
			var v = vg.DeepCopy()
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: vg.Namespace, Name: vg.Name}, v)).To(Succeed())
			g.Expect(v.Status.LastObservedTime).NotTo(BeNil())
			g.Expect(time.Since(v.Status.LastObservedTime.Time)).To(BeNumerically("<", time.Minute))
		}, "20s").Should(Succeed())
		for _, name := range []string{"hacontrolplanes.hacp.dev", "vipgroups.hacp.dev"} {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(k8sClient.Get(ctx, types.NamespacedName{Name: name}, &crd)).To(Succeed())
			var cols []string
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				if c.JSONPath == ".status.lastObservedTime" && c.Type == "date" {
					cols = append(cols, c.Name)
				}
			}
			Expect(cols).To(Equal([]string{"Observed"}), name)
			// kubectl prints a date column as an age, and a future date as <invalid> (seen on the
			// real cluster): a column of expiry dates must be a string.
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				if c.JSONPath == ".status.earliestCertificateExpiry" {
					Expect(c.Type).To(Equal("string"), "%s column %s", name, c.Name)
				}
			}
		}
	})
})
