package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/manifest"
)

// newNamespace creates a fresh namespace for one test.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + rand.String(8)}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// validVIPGroup returns an unstructured VIPGroup that the API server accepts; tests mutate it.
func validVIPGroup(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "hacp.dev/v1alpha1",
		"kind":       "VIPGroup",
		"metadata":   map[string]any{"name": "vg-" + rand.String(6), "namespace": ns},
		"spec": map[string]any{
			"virtualIPs":      []any{"198.51.100.8"},
			"virtualRouterID": int64(68),
		},
	}}
}

func validHAControlPlane(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "hacp.dev/v1alpha1",
		"kind":       "HAControlPlane",
		"metadata":   map[string]any{"name": "hcp-" + rand.String(6), "namespace": ns},
		"spec": map[string]any{
			"controlPlaneEndpoint": "198.51.100.8:6443",
		},
	}}
}

func set(path string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		Expect(unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...)).To(Succeed())
	}
}

var _ = Describe("CRDs", func() {
	It("are installed with short names, categories and print columns", func() {
		for name, want := range map[string]struct {
			short   string
			columns []string
		}{
			"hacontrolplanes.hacp.dev": {"hacp", []string{"Endpoint", "Members", "Etcd", "Quorum", "Tolerance", "VIP-Master", "Available", "Certs-Expire", "Observed", "Age"}},
			"vipgroups.hacp.dev":       {"vipg", []string{"VIPs", "VRID", "Master", "Nodes", "Ready", "Observed", "Age"}},
		} {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(k8sClient.Get(ctx, types.NamespacedName{Name: name}, &crd)).To(Succeed())
			Expect(crd.Spec.Names.ShortNames).To(ContainElement(want.short))
			// kubectl expands a category before a short name: a category named like a short name
			// makes `kubectl get hacp NAME` fail (the kubectl spec runs the README's commands).
			Expect(crd.Spec.Names.Categories).To(Equal([]string{"hacp-all"}))
			Expect(crd.Spec.Names.Categories).NotTo(ContainElements("hacp", "vipg"))
			Expect(crd.Spec.Versions).To(HaveLen(1))
			Expect(crd.Spec.Versions[0].Subresources.Status).NotTo(BeNil())
			var cols []string
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				cols = append(cols, c.Name)
			}
			Expect(cols).To(Equal(want.columns))
		}
	})

	It("accept the example the README tells users to apply, with the seed's values, and a second apply changes nothing", func() {
		data, err := os.ReadFile(filepath.Join("..", "examples", "haclusterplane.yaml"))
		Expect(err).NotTo(HaveOccurred())
		objs, err := manifest.Decode(data)
		Expect(err).NotTo(HaveOccurred())
		Expect(objs).To(HaveLen(2))
		for _, o := range objs {
			// Server-side dry run then a real apply: what `kubectl apply --server-side` does.
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("test"), client.DryRunAll)).To(Succeed())
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("test"))).To(Succeed())
		}
		var vg hacpv1.VIPGroup
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kube-apiserver"}, &vg)).To(Succeed())
		Expect(vg.Spec.VirtualRouterID).To(BeEquivalentTo(68))

		By("applying the same file again changes nothing (GitOps re-syncs)")
		var hcpBefore hacpv1.HAControlPlane
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcpBefore)).To(Succeed())
		for _, o := range objs {
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("test"))).To(Succeed())
		}
		var vgAfter hacpv1.VIPGroup
		var hcpAfter hacpv1.HAControlPlane
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(&vg), &vgAfter)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(&hcpBefore), &hcpAfter)).To(Succeed())
		Expect(vgAfter.Generation).To(Equal(vg.Generation))
		Expect(vgAfter.Spec).To(Equal(vg.Spec))
		Expect(hcpAfter.Generation).To(Equal(hcpBefore.Generation))
		Expect(hcpAfter.Spec).To(Equal(hcpBefore.Spec))
		Expect(vg.Spec.VirtualIPs).To(Equal([]string{"192.168.1.8"}))
		var hcp hacpv1.HAControlPlane
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubernetes"}, &hcp)).To(Succeed())
		Expect(hcp.Spec.ControlPlaneEndpoint).To(Equal("192.168.1.8:6443"))
	})

	It("fill defaults for a minimal VIPGroup", func() {
		ns := newNamespace()
		u := validVIPGroup(ns)
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		var vg hacpv1.VIPGroup
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &vg)).To(Succeed())
		Expect(vg.Spec.VRRPVersion).To(BeEquivalentTo(2))
		Expect(vg.Spec.AdvertisementIntervalMilliseconds).To(BeEquivalentTo(1000))
		Expect(vg.Spec.NodeSelector).To(HaveKey("node-role.kubernetes.io/control-plane"))
		Expect(vg.Spec.HealthCheck.Mode).To(Equal(hacpv1.HealthCheckQuorumAware))
		Expect(vg.Spec.HealthCheck.Path).To(Equal("/readyz"))
		Expect(vg.Spec.HealthCheck.APIServerPort).To(BeEquivalentTo(6443))
		// One disruption per failure: a returning node does not take the VIP back.
		Expect(vg.Spec.Preemption).To(Equal(hacpv1.PreemptionDisabled))
	})

	It("default VIPGroups the way keepalived.Defaulted does for files that never reach the API server", func() {
		for _, mutate := range []func(*unstructured.Unstructured){
			func(*unstructured.Unstructured) {},
			set("spec.healthCheck", map[string]any{"fall": int64(3)}),
			set("spec.passwordSecretRef", map[string]any{"name": "pw"}),
			set("spec.vrrpVersion", int64(3)),
		} {
			u := validVIPGroup("default")
			mutate(u)
			var typed hacpv1.VIPGroup
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &typed)).To(Succeed())
			Expect(k8sClient.Create(ctx, u, client.DryRunAll)).To(Succeed())
			var served hacpv1.VIPGroup
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &served)).To(Succeed())
			Expect(keepalived.Defaulted(typed.Spec)).To(Equal(served.Spec))
		}
	})

	DescribeTable("reject bad VIPGroups with a message a person can act on",
		func(mutate func(*unstructured.Unstructured), want string) {
			u := validVIPGroup("default")
			mutate(u)
			err := k8sClient.Create(ctx, u, client.DryRunAll)
			Expect(err).To(HaveOccurred(), "the API server accepted %v", u.Object["spec"])
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("no virtual IPs", set("spec.virtualIPs", []any{}), "spec.virtualIPs: Invalid value"),
		Entry("missing virtualIPs", func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "spec", "virtualIPs") }, "spec.virtualIPs: Required value"),
		Entry("malformed VIP", set("spec.virtualIPs", []any{"192.168.1.300"}), "each virtual IP must be a valid IPv4 or IPv6 address in canonical form"),
		Entry("VIP with prefix length", set("spec.virtualIPs", []any{"192.168.1.8/24"}), "without a prefix length"),
		Entry("non-canonical IPv6 VIP", set("spec.virtualIPs", []any{"2001:DB8:0:0::8"}), "canonical form"),
		Entry("loopback VIP", set("spec.virtualIPs", []any{"127.0.0.8"}), "a virtual IP must be a unicast address"),
		Entry("multicast VIP", set("spec.virtualIPs", []any{"224.0.0.18"}), "a virtual IP must be a unicast address"),
		Entry("duplicate VIPs", set("spec.virtualIPs", []any{"198.51.100.8", "198.51.100.8"}), "Duplicate value"),
		Entry("VRID 0", set("spec.virtualRouterID", int64(0)), "should be greater than or equal to 1"),
		Entry("VRID 256", set("spec.virtualRouterID", int64(256)), "should be less than or equal to 255"),
		Entry("fractional advert_int with VRRPv2", set("spec.advertisementIntervalMilliseconds", int64(500)), "must be a whole number of seconds (a multiple of 1000) with vrrpVersion 2"),
		Entry("advert_int over 255 s with VRRPv2", set("spec.advertisementIntervalMilliseconds", int64(256000)), "should be less than or equal to 255000"),
		Entry("VRRPv3 advert not in centiseconds", func(u *unstructured.Unstructured) {
			set("spec.vrrpVersion", int64(3))(u)
			set("spec.advertisementIntervalMilliseconds", int64(105))(u)
		}, "must be a multiple of 10 with vrrpVersion 3"),
		Entry("advert_int below 10 ms", func(u *unstructured.Unstructured) {
			set("spec.vrrpVersion", int64(3))(u)
			set("spec.advertisementIntervalMilliseconds", int64(5))(u)
		}, "should be greater than or equal to 10"),
		Entry("VRRP version 4", set("spec.vrrpVersion", int64(4)), "supported values: \"2\", \"3\""),
		Entry("password with VRRPv3", func(u *unstructured.Unstructured) {
			set("spec.vrrpVersion", int64(3))(u)
			set("spec.passwordSecretRef", map[string]any{"name": "vrrp"})(u)
		}, "passwordSecretRef cannot be used with vrrpVersion 3"),
		Entry("fall below 1", set("spec.healthCheck.fall", int64(0)), "spec.healthCheck.fall: Invalid value: 0: spec.healthCheck.fall in body should be greater than or equal to 1"),
		Entry("rise below 1", set("spec.healthCheck.rise", int64(0)), "spec.healthCheck.rise in body should be greater than or equal to 1"),
		Entry("check timeout not below interval", func(u *unstructured.Unstructured) {
			set("spec.healthCheck.intervalSeconds", int64(1))(u)
			set("spec.healthCheck.timeoutMilliseconds", int64(1000))(u)
		}, "timeoutMilliseconds must be shorter than intervalSeconds"),
		Entry("unknown health check mode", set("spec.healthCheck.mode", "TCP"), "supported values: \"Weighted\", \"QuorumAware\""),
		Entry("health check path without slash", set("spec.healthCheck.path", "readyz"), "spec.healthCheck.path in body should match"),
		Entry("API server port 0", set("spec.healthCheck.apiServerPort", int64(0)), "spec.healthCheck.apiServerPort in body should be greater than or equal to 1"),
		Entry("interface name too long", set("spec.interface", "averyveryverylongif0"), "spec.interface: Too long"),
		Entry("static member with a bad address", set("spec.staticMembers", []any{map[string]any{"name": "h1", "address": "h1.example"}}), "address must be a valid IPv4 or IPv6 address"),
		Entry("static member on the VIP", set("spec.staticMembers", []any{map[string]any{"name": "h1", "address": "198.51.100.8"}}), "a static member's address cannot also be a virtual IP"),
		Entry("two static members with one name", set("spec.staticMembers", []any{
			map[string]any{"name": "h1", "address": "198.51.100.11"},
			map[string]any{"name": "h1", "address": "198.51.100.12"},
		}), "Duplicate value"),
		Entry("unknown preemption", set("spec.preemption", "Sometimes"), "supported values: \"Enabled\", \"Disabled\""),
		Entry("name longer than a label value", set("metadata.name", strings.Repeat("v", 64)), "metadata.name must be at most 63 characters"),
		Entry("nodeSelector key that is not a label key", set("spec.nodeSelector", map[string]any{"node role": ""}), "each nodeSelector key must be a label key"),
		Entry("nodeSelector key with a bad prefix", set("spec.nodeSelector", map[string]any{"-bad.example/role": ""}), "each nodeSelector key must be a label key"),
		Entry("nodeSelector value that is not a label value", set("spec.nodeSelector", map[string]any{"role": "control plane"}), "a label value must be empty, or at most 63"),
		Entry("nodeSelector value too long", set("spec.nodeSelector", map[string]any{"role": strings.Repeat("x", 64)}), "spec.nodeSelector.role: Too long"),
	)

	DescribeTable("reject bad HAControlPlanes with a message a person can act on",
		func(mutate func(*unstructured.Unstructured), want string) {
			u := validHAControlPlane("default")
			mutate(u)
			err := k8sClient.Create(ctx, u, client.DryRunAll)
			Expect(err).To(HaveOccurred(), "the API server accepted %v", u.Object["spec"])
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("endpoint without port", set("spec.controlPlaneEndpoint", "192.168.1.8"), "controlPlaneEndpoint must be host:port"),
		Entry("endpoint with scheme", set("spec.controlPlaneEndpoint", "https://192.168.1.8:6443"), "controlPlaneEndpoint must be host:port"),
		Entry("endpoint with path", set("spec.controlPlaneEndpoint", "192.168.1.8:6443/api"), "controlPlaneEndpoint must be host:port"),
		Entry("endpoint port out of range", set("spec.controlPlaneEndpoint", "192.168.1.8:70000"), "controlPlaneEndpoint must be host:port"),
		Entry("bare IPv6 endpoint", set("spec.controlPlaneEndpoint", "2001:db8::8:6443"), "controlPlaneEndpoint must be host:port"),
		Entry("token TTL too short", set("spec.joinMaterial.tokenTTL", "5m"), "tokenTTL must be between 10m and 720h"),
		Entry("certificate warning of minutes", set("spec.certificates.warnBefore", "10m"), "warnBefore must be between 1h and 8760h"),
		Entry("negative dead-member grace period", func(u *unstructured.Unstructured) {
			set("spec.etcd.clientSecretRef.name", "etcd-client")(u)
			set("spec.etcd.deadMemberGracePeriod", "-1m")(u)
		}, "deadMemberGracePeriod must not be negative"),
		Entry("rotation lead longer than TTL", func(u *unstructured.Unstructured) {
			set("spec.joinMaterial.tokenTTL", "1h")(u)
			set("spec.joinMaterial.rotateBefore", "2h")(u)
		}, "rotateBefore must be shorter than tokenTTL"),
		Entry("certificate key TTL too long", set("spec.joinMaterial.certificateKeyTTL", "48h"), "certificateKeyTTL must be between 10m and 24h"),
		Entry("relative pki directory", set("spec.joinMaterial.pkiDirectory", "etc/kubernetes/pki"), "spec.joinMaterial.pkiDirectory in body should match"),
		Entry("etcd endpoint that is not a URL", set("spec.etcd", map[string]any{"endpoints": []any{"192.168.1.12:2379"}, "clientSecretRef": map[string]any{"name": "etcd"}}), "each etcd endpoint must be an http(s) URL"),
		Entry("name longer than a label value", set("metadata.name", strings.Repeat("h", 64)), "metadata.name must be at most 63 characters"),
		Entry("controlPlaneSelector key that is not a label key", set("spec.controlPlaneSelector", map[string]any{"a/b/c": ""}), "each controlPlaneSelector key must be a label key"),
		Entry("controlPlaneSelector value that is not a label value", set("spec.controlPlaneSelector", map[string]any{"role": "-x"}), "a label value must be empty, or at most 63"),
	)

	It("accept names and selectors of the longest valid forms", func() {
		u := validVIPGroup("default")
		set("metadata.name", strings.Repeat("v", 63))(u)
		set("spec.nodeSelector", map[string]any{"example.com/" + strings.Repeat("k", 63): strings.Repeat("x", 63), "node-role.kubernetes.io/control-plane": ""})(u)
		Expect(k8sClient.Create(ctx, u, client.DryRunAll)).To(Succeed())
		h := validHAControlPlane("default")
		set("metadata.name", strings.Repeat("h", 63))(h)
		set("spec.controlPlaneSelector", map[string]any{"topology.kubernetes.io/zone": "eu-west-1a"})(h)
		Expect(k8sClient.Create(ctx, h, client.DryRunAll)).To(Succeed())
	})

	It("accept the IPv6 and dual-stack forms people use", func() {
		u := validVIPGroup("default")
		set("spec.virtualIPs", []any{"198.51.100.8", "2001:db8::8"})(u)
		set("spec.vrrpVersion", int64(3))(u)
		set("spec.advertisementIntervalMilliseconds", int64(100))(u)
		Expect(k8sClient.Create(ctx, u, client.DryRunAll)).To(Succeed())
		h := validHAControlPlane("default")
		set("spec.controlPlaneEndpoint", "[2001:db8::8]:6443")(h)
		Expect(k8sClient.Create(ctx, h, client.DryRunAll)).To(Succeed())
		set("spec.controlPlaneEndpoint", "api.example.com:6443")(h)
		Expect(k8sClient.Create(ctx, h, client.DryRunAll)).To(Succeed())
	})
})

var _ = Describe("Reconcilers", func() {
	It("record observedGeneration and never write spec", func() {
		ns := newNamespace()
		u := validVIPGroup(ns)
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		h := validHAControlPlane(ns)
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		for _, obj := range []client.Object{&hacpv1.VIPGroup{}, &hacpv1.HAControlPlane{}} {
			src := u
			if _, ok := obj.(*hacpv1.HAControlPlane); ok {
				src = h
			}
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(src), obj)).To(Succeed())
				conds, gen := conditionsOf(obj)
				g.Expect(gen).To(Equal(obj.GetGeneration()))
				g.Expect(conds).NotTo(BeEmpty())
				for _, c := range conds {
					g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()), fmt.Sprintf("condition %s", c.Type))
				}
			}).Should(Succeed())
			for _, mf := range obj.GetManagedFields() {
				if mf.Manager == FieldOwner {
					Expect(mf.Subresource).To(Equal("status"), "hacp must only own status fields")
				}
			}
		}
	})
})

func conditionsOf(obj client.Object) ([]metav1.Condition, int64) {
	switch o := obj.(type) {
	case *hacpv1.VIPGroup:
		return o.Status.Conditions, o.Status.ObservedGeneration
	case *hacpv1.HAControlPlane:
		return o.Status.Conditions, o.Status.ObservedGeneration
	}
	return nil, 0
}
