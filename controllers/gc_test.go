package controllers

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/pki"
)

// envtest runs no controllers, so deletion is only as good as the owner references until a
// garbage collector acts on them. These specs run kube-controller-manager's own garbage
// collector (built by hack/envtest-assets.sh) and watch it delete what hacp made, and nothing else.
var _ = Describe("Deletion with kube-controller-manager's garbage collector", Ordered, func() {
	BeforeAll(func() {
		bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-controller-manager")
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				Fail("kube-controller-manager is not in KUBEBUILDER_ASSETS; hack/envtest-assets.sh builds it")
			}
			Skip("kube-controller-manager is not in KUBEBUILDER_ASSETS: run `make test` (hack/envtest-assets.sh builds it)")
		}
		user, err := testEnv.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kc, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "kcm.kubeconfig")
		Expect(os.WriteFile(path, kc, 0o600)).To(Succeed())
		kcm := exec.Command(bin, "--kubeconfig="+path, "--controllers=garbagecollector", "--leader-elect=false",
			"--secure-port=0", "--concurrent-gc-syncs=5", "-v=1")
		kcm.Stdout, kcm.Stderr = GinkgoWriter, GinkgoWriter
		Expect(kcm.Start()).To(Succeed())
		DeferCleanup(func() {
			_ = kcm.Process.Kill()
			_ = kcm.Wait()
		})
	})

	gone := func(obj client.Object, ns, name string) func() error {
		return func() error {
			err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err == nil {
				return errStillThere
			}
			return err
		}
	}

	It("deletes everything a VIPGroup made when it is deleted, and nothing the user made", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.91")
		tc.addNode("h2", "198.51.100.92")
		// The user's own password Secret, referenced by the second group: theirs, not hacp's.
		userPW := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "my-vrrp-password", Namespace: tc.ns}, StringData: map[string]string{"password": "mine123"}}
		Expect(k8sClient.Create(ctx, userPW)).To(Succeed())
		unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: tc.ns}, StringData: map[string]string{"k": "v"}}
		Expect(k8sClient.Create(ctx, unrelated)).To(Succeed())

		generated := tc.vipGroup("gen", 93, "198.51.100.90")
		referenced := tc.vipGroup("ref", 94, "198.51.100.89")
		referenced.Spec.PasswordSecretRef = &hacpv1.SecretKeyReference{Name: userPW.Name, Key: "password"}
		for _, vg := range []*hacpv1.VIPGroup{generated, referenced} {
			Expect(k8sClient.Create(ctx, vg)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(configSecret(g, vg).Data).To(HaveLen(2))
				g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: vg.Name + "-keepalived"}, &appsv1.DaemonSet{})).To(Succeed())
			}).Should(Succeed())
		}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "gen-vrrp-auth"}, &corev1.Secret{})).To(Succeed())

		Expect(k8sClient.Delete(ctx, generated)).To(Succeed())
		for _, o := range []struct {
			obj  client.Object
			name string
		}{
			{&appsv1.DaemonSet{}, "gen-keepalived"},
			{&corev1.Secret{}, "gen-keepalived"},
			{&corev1.Secret{}, "gen-vrrp-auth"},
			{&corev1.ServiceAccount{}, "gen-hacp-agent"},
			{&rbacv1.Role{}, "gen-hacp-agent"},
			{&rbacv1.RoleBinding{}, "gen-hacp-agent"},
		} {
			Eventually(gone(o.obj, tc.ns, o.name), "60s").Should(Succeed(), "%T %s", o.obj, o.name)
		}
		By("the other group keeps running untouched")
		var ds appsv1.DaemonSet
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "ref-keepalived"}, &ds)).To(Succeed())
		Expect(ds.DeletionTimestamp).To(BeNil())

		Expect(k8sClient.Delete(ctx, referenced)).To(Succeed())
		Eventually(gone(&appsv1.DaemonSet{}, tc.ns, "ref-keepalived"), "60s").Should(Succeed())
		Eventually(gone(&corev1.Secret{}, tc.ns, "ref-keepalived"), "60s").Should(Succeed())
		By("the user's Secrets stay")
		Consistently(func(g Gomega) {
			for _, s := range []*corev1.Secret{userPW, unrelated} {
				var cur corev1.Secret
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &cur)).To(Succeed())
				g.Expect(cur.DeletionTimestamp).To(BeNil())
			}
		}, "2s").Should(Succeed())
	})

	It("deletes an HAControlPlane's join Secret with it", func() {
		tc := newTestCluster()
		tc.addNode("h1", "198.51.100.95")
		ca, err := pki.NewCA("ca")
		Expect(err).NotTo(HaveOccurred())
		// Shared with the join material specs, which expect to create it themselves.
		ci := clusterInfo(ca.CertPEM)
		if err := k8sClient.Create(ctx, ci); err == nil {
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, ci) })
		} else {
			Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "%v", err)
		}
		h := tc.haControlPlane("gc")
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "gc-join"}, &corev1.Secret{})
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, h)).To(Succeed())
		Eventually(gone(&corev1.Secret{}, tc.ns, "gc-join"), "60s").Should(Succeed())
	})
})

type stillThere struct{}

func (stillThere) Error() string { return "still there" }

var errStillThere error = stillThere{}
