package controllers

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"hacp.dev/hacp/internal/bootstrap"
)

// kustomizeBuild renders config/<dir> as `kubectl kustomize` would.
func kustomizeBuild(dir string) []*unstructured.Unstructured {
	GinkgoHelper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "config", dir))
	Expect(err).NotTo(HaveOccurred(), dir)
	var objs []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		// Through JSON: kustomize's maps hold plain ints, which API machinery does not copy.
		raw, err := r.MarshalJSON()
		Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{}
		Expect(u.UnmarshalJSON(raw)).To(Succeed())
		objs = append(objs, u)
	}
	return objs
}

var _ = Describe("Deploy manifests", func() {
	It("render with kustomize and pass a server-side dry run", func() {
		objs := kustomizeBuild("default")
		kinds := map[string]int{}
		for _, u := range objs {
			kinds[u.GetKind()]++
		}
		Expect(kinds).To(HaveKeyWithValue("CustomResourceDefinition", 2))
		Expect(kinds).To(HaveKeyWithValue("Deployment", 1))
		Expect(kinds).To(HaveKey("ClusterRole"))
		Expect(kinds).To(HaveKey("Role"))
		// The namespace must exist for a dry run of what goes into it.
		for _, u := range objs {
			if u.GetKind() == "Namespace" {
				Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("deploy-test"))).To(Succeed())
			}
		}
		for _, u := range objs {
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("deploy-test"), client.DryRunAll)).
				To(Succeed(), "%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
		}
		// No ClusterRole grants Secret access: only the namespaced Roles do.
		for _, u := range objs {
			if u.GetKind() != "ClusterRole" {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
			for _, r := range rules {
				res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				Expect(res).NotTo(ContainElement("secrets"), "ClusterRole %s grants cluster-wide Secret access", u.GetName())
			}
		}
	})

	It("run a manager Pod its namespace's Pod Security admission accepts, with and without the pki component", func() {
		for _, variant := range []string{"default", "with-pki"} {
			By(variant)
			var nsObj *unstructured.Unstructured
			var deploy appsv1.Deployment
			for _, u := range kustomizeBuild(variant) {
				switch u.GetKind() {
				case "Namespace":
					nsObj = u
				case "Deployment":
					Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &deploy)).To(Succeed())
				}
			}
			Expect(nsObj).NotTo(BeNil())
			// A namespace of its own with the rendered namespace's labels (its Pod Security level),
			// so that the shared hacp-system namespace stays as the other specs apply it.
			psaNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "psa-", Labels: nsObj.GetLabels()}}
			Expect(k8sClient.Create(ctx, psaNS)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, psaNS) })
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "hacp-manager-", Namespace: psaNS.Name, Labels: deploy.Spec.Template.Labels},
				Spec:       deploy.Spec.Template.Spec,
			}
			pod.Spec.ServiceAccountName = "" // the ServiceAccount need not exist for admission
			Expect(k8sClient.Create(ctx, pod, client.DryRunAll)).To(Succeed(), "%s: the manager Pod is rejected", variant)
		}
	})

	It("include a bootstrap static Pod the API server accepts as its mirror Pod", func() {
		pod := bootstrap.StaticPod(bootstrap.Options{Image: "registry.example/hacp:v1"})
		pod.Name += "-h1"
		pod.Spec.NodeName = "h1"
		// kubelet marks mirror Pods with this annotation; the API server validates them as such.
		pod.Annotations[corev1.MirrorPodAnnotationKey] = "hash"
		Expect(k8sClient.Create(ctx, pod, client.DryRunAll)).To(Succeed())
	})
})
