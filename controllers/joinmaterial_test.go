package controllers

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/joinmaterial"
	"hacp.dev/hacp/test/pki"
)

// writePKI makes a fresh kubeadm-style pki directory.
func writePKI(dir string) {
	Expect(pki.WriteKubeadmPKI(dir)).To(Succeed())
}

func clusterInfo(caPEM []byte) *corev1.ConfigMap {
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: %s\n    server: https://198.51.100.8:6443\n", base64.StdEncoding.EncodeToString(caPEM))
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"kubeconfig": kubeconfig}}
}

func joinCondition(g Gomega, h *hacpv1.HAControlPlane) *metav1.Condition {
	c := meta.FindStatusCondition(getHCP(g, h).Status.Conditions, hacpv1.ConditionJoinMaterialReady)
	g.Expect(c).NotTo(BeNil())
	return c
}

// nudge makes the reconciler look again now (after the fake clock moved).
func nudge(h *hacpv1.HAControlPlane) {
	Eventually(func() error {
		var cur hacpv1.HAControlPlane
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(h), &cur); err != nil {
			return err
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations["test/nudge"] = time.Now().String()
		return k8sClient.Update(ctx, &cur)
	}).Should(Succeed())
}

func hacpTokens(h *hacpv1.HAControlPlane) []corev1.Secret {
	var list corev1.SecretList
	Expect(k8sClient.List(ctx, &list, client.InNamespace("kube-system"), client.MatchingLabels{LabelHAControlPlane: haControlPlaneLabel(h), labelTokenRole: "join"})).To(Succeed())
	return list.Items
}

var _ = Describe("Join material", Ordered, func() {
	var (
		tc      *testCluster
		h       *hacpv1.HAControlPlane
		pkiDir  string
		caPEM   []byte
		foreign *corev1.Secret
	)
	BeforeAll(func() {
		tc = newTestCluster()
		pkiDir = GinkgoT().TempDir()
		writePKI(pkiDir)
		var err error
		caPEM, err = os.ReadFile(filepath.Join(pkiDir, "ca.crt"))
		Expect(err).NotTo(HaveOccurred())
		// A token made by hand (kubeadm token create): hacp must never touch it.
		foreign = joinmaterial.TokenSecret(joinmaterial.Token{ID: "abcdef", Secret: "0123456789abcdef", Expires: time.Now().Add(-time.Hour)}, "by hand", nil)
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
	})

	It("says so when kube-public/cluster-info is missing", func() {
		h = tc.haControlPlane("cp")
		h.Spec.JoinMaterial = hacpv1.JoinMaterialSpec{CertificateUpload: hacpv1.CertificateUploadEnabled, PKIDirectory: pkiDir}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		Eventually(func(g Gomega) {
			c := joinCondition(g, h)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Message).To(ContainSubstring("kube-public/cluster-info not found"))
		}).Should(Succeed())
	})

	It("publishes join commands whose parts are in kubeadm's formats", func() {
		Expect(k8sClient.Create(ctx, clusterInfo(caPEM))).To(Succeed())
		nudge(h)
		var join, cpJoin corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join"}, &join)).To(Succeed())
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join-control-plane"}, &cpJoin)).To(Succeed())
			g.Expect(joinCondition(g, h).Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())
		By("the worker's Secret holds nothing that decrypts the cluster's CA keys")
		Expect(join.Data).To(HaveKey("workerJoinCommand"))
		Expect(join.Data).NotTo(HaveKey("certificateKey"))
		Expect(join.Data).NotTo(HaveKey("controlPlaneJoinCommand"))
		Expect(cpJoin.Data).To(HaveKey("controlPlaneJoinCommand"))
		Expect(cpJoin.Data).To(HaveKey("certificateKey"))
		hashes, err := joinmaterial.CACertHashes(caPEM)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(join.Data["caCertHash"])).To(Equal(hashes[0]))
		tok := string(join.Data["token"])
		Expect(tok).To(MatchRegexp(`^[a-z0-9]{6}\.[a-z0-9]{16}$`))
		key := string(cpJoin.Data["certificateKey"])
		Expect(key).To(MatchRegexp(`^[0-9a-f]{64}$`))
		Expect(string(join.Data["workerJoinCommand"])).To(Equal(fmt.Sprintf("kubeadm join 198.51.100.8:6443 --token %s --discovery-token-ca-cert-hash %s", tok, hashes[0])))
		Expect(string(cpJoin.Data["controlPlaneJoinCommand"])).To(Equal(fmt.Sprintf("kubeadm join 198.51.100.8:6443 --token %s --discovery-token-ca-cert-hash %s --control-plane --certificate-key %s", tok, hashes[0], key)))

		By("the token Secret is what kubeadm reads")
		var ts corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "bootstrap-token-" + tok[:6]}, &ts)).To(Succeed())
		Expect(ts.Type).To(Equal(corev1.SecretType("bootstrap.kubernetes.io/token")))
		Expect(string(ts.Data["token-secret"])).To(Equal(tok[7:]))
		Expect(string(ts.Data["usage-bootstrap-authentication"])).To(Equal("true"))
		Expect(string(ts.Data["usage-bootstrap-signing"])).To(Equal("true"))
		Expect(string(ts.Data["auth-extra-groups"])).To(Equal("system:bootstrappers:kubeadm:default-node-token"))
		exp, err := time.Parse(time.RFC3339, string(ts.Data["expiration"]))
		Expect(err).NotTo(HaveOccurred())
		Expect(exp).To(BeTemporally("~", fakeClock.Now().Add(24*time.Hour), 2*time.Second))

		By("kubeadm-certs decrypts with the published key, and is owned by a proxy token")
		var kc corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &kc)).To(Succeed())
		for file, dataKey := range map[string]string{"ca.crt": "ca.crt", "ca.key": "ca.key", "sa.key": "sa.key", "sa.pub": "sa.pub", "front-proxy-ca.crt": "front-proxy-ca.crt", "front-proxy-ca.key": "front-proxy-ca.key", "etcd/ca.crt": "etcd-ca.crt", "etcd/ca.key": "etcd-ca.key"} {
			want, err := os.ReadFile(filepath.Join(pkiDir, file))
			Expect(err).NotTo(HaveOccurred())
			Expect(openGCM(key, kc.Data[dataKey])).To(Equal(want), file)
		}
		Expect(kc.OwnerReferences).To(HaveLen(1))
		var proxy corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: kc.OwnerReferences[0].Name}, &proxy)).To(Succeed())
		Expect(proxy.UID).To(Equal(kc.OwnerReferences[0].UID))
		Expect(proxy.Data).NotTo(HaveKey("usage-bootstrap-authentication"))
		var rb rbacv1.RoleBinding
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm:kubeadm-certs"}, &rb)).To(Succeed())
		Expect(rb.Subjects[0].Name).To(Equal("system:bootstrappers:kubeadm:default-node-token"))

		got := getHCP(Default, h)
		Expect(got.Status.JoinMaterial).NotTo(BeNil())
		Expect(got.Status.JoinMaterial.SecretName).To(Equal("cp-join"))
		Expect(got.Status.JoinMaterial.ControlPlaneSecretName).To(Equal("cp-join-control-plane"))
		Expect(fmt.Sprint(got.Status)).NotTo(ContainSubstring(tok[7:]), "no secret value in status")
		Expect(fmt.Sprint(got.Status)).NotTo(ContainSubstring(key))
	})

	It("mends an upload whose key was never published (the manager died in between)", func() {
		var cpJoin corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join-control-plane"}, &cpJoin)).To(Succeed())
		published := string(cpJoin.Data["certificateKey"])
		By("kubeadm-certs now holds an upload under a key nobody published")
		var kc corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &kc)).To(Succeed())
		unpublished, err := joinmaterial.NewCertificateKey()
		Expect(err).NotTo(HaveOccurred())
		for k := range kc.Data {
			kc.Data[k], err = joinmaterial.Encrypt(unpublished, []byte("contents of "+k))
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(k8sClient.Update(ctx, &kc)).To(Succeed())
		nudge(h)
		By("the next reconcile uploads again under a new key, and publishes that key")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join-control-plane"}, &cpJoin)).To(Succeed())
			key := string(cpJoin.Data["certificateKey"])
			g.Expect(key).NotTo(Equal(published))
			g.Expect(key).NotTo(Equal(unpublished))
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &kc)).To(Succeed())
			caKey, err := os.ReadFile(filepath.Join(pkiDir, "ca.key"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(openGCM(key, kc.Data["ca.key"])).To(Equal(caKey))
			g.Expect(joinCondition(g, h).Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())
	})

	It("rotates on time with overlap, keeps at most two tokens, and never touches a token it did not make", func() {
		first := hacpTokens(h)
		Expect(first).To(HaveLen(1))
		By("23 hours later the token is inside its rotation window: a successor is published")
		fakeClock.Step(23 * time.Hour)
		nudge(h)
		Eventually(func(g Gomega) {
			toks := hacpTokens(h)
			g.Expect(toks).To(HaveLen(2), "the old token stays valid until it expires")
			var join corev1.Secret
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join"}, &join)).To(Succeed())
			g.Expect(string(join.Data["token"])[:6]).NotTo(Equal(string(first[0].Data["token-id"])))
		}).Should(Succeed())
		By("when the old one expires, it is deleted")
		fakeClock.Step(90 * time.Minute)
		nudge(h)
		Eventually(func(g Gomega) { g.Expect(hacpTokens(h)).To(HaveLen(1)) }).Should(Succeed())
		var still corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), &still)).To(Succeed(), "a token hacp did not create must never be deleted, even expired")
		Expect(still.Data).To(Equal(foreign.Data))
	})

	It("reports a wrong endpoint and keeps the last good join Secret", func() {
		var before corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join"}, &before)).To(Succeed())
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: "kube-system"}, Data: map[string]string{"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 198.51.100.9:6443\n"}}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, cm) })
		fakeClock.Step(23 * time.Hour) // rotation is due, but must not happen against the wrong endpoint
		nudge(h)
		Eventually(func(g Gomega) {
			c := joinCondition(g, h)
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonEndpointMismatch))
			g.Expect(c.Message).To(ContainSubstring(`differs from kubeadm's controlPlaneEndpoint "198.51.100.9:6443"`))
		}).Should(Succeed())
		var after corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join"}, &after)).To(Succeed())
		Expect(after.Data).To(Equal(before.Data))
	})

	It("keeps rotating tokens when the pki directory is unreadable, and says why there is no certificate key", func() {
		h2 := tc.haControlPlane("tokens-only")
		h2.Spec.JoinMaterial = hacpv1.JoinMaterialSpec{CertificateUpload: hacpv1.CertificateUploadEnabled, PKIDirectory: "/nonexistent/pki"}
		Expect(k8sClient.Create(ctx, h2)).To(Succeed())
		Eventually(func(g Gomega) {
			c := joinCondition(g, h2)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonTokensOnly))
			g.Expect(c.Message).To(ContainSubstring("certificate key unavailable"))
			g.Expect(c.Message).To(ContainSubstring("/nonexistent/pki/ca.crt"))
			var join corev1.Secret
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "tokens-only-join"}, &join)).To(Succeed())
			g.Expect(join.Data).To(HaveKey("workerJoinCommand"))
			g.Expect(join.Data).NotTo(HaveKey("controlPlaneJoinCommand"))
			g.Expect(getHCP(g, h2).Status.JoinMaterial.ControlPlaneSecretName).To(BeEmpty())
		}).Should(Succeed())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "tokens-only-join-control-plane"}, &corev1.Secret{})).NotTo(Succeed())

		By("turning certificate upload off withdraws the published certificate key")
		Eventually(func() error {
			cur := getHCP(Default, h)
			cur.Spec.JoinMaterial.CertificateUpload = hacpv1.CertificateUploadDisabled
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			err := k8sClient.Get(ctx, types.NamespacedName{Namespace: tc.ns, Name: "cp-join-control-plane"}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the control-plane join Secret is still there: %v", err)
			g.Expect(getHCP(g, h).Status.JoinMaterial.ControlPlaneSecretName).To(BeEmpty())
		}).Should(Succeed())
	})

	It("reports a competing writer of kubeadm-certs instead of overwriting it", func() {
		var before corev1.Secret
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &before)).To(Succeed())
		rival := tc.haControlPlane("rival")
		rival.Spec.JoinMaterial = hacpv1.JoinMaterialSpec{CertificateUpload: hacpv1.CertificateUploadEnabled, PKIDirectory: pkiDir}
		Expect(k8sClient.Create(ctx, rival)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, rival) })
		Eventually(func(g Gomega) {
			c := joinCondition(g, rival)
			g.Expect(c.Reason).To(Equal(hacpv1.ReasonCertificatesForeign))
			g.Expect(c.Message).To(ContainSubstring("kube-system/kubeadm-certs was uploaded by HAControlPlane " + tc.ns + ".cp"))
			g.Expect(getHCP(g, rival).Status.JoinMaterial.ControlPlaneSecretName).To(BeEmpty())
		}).Should(Succeed())
		nudge(rival)
		Consistently(func(g Gomega) {
			var now corev1.Secret
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &now)).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(before.ResourceVersion), "kubeadm-certs was overwritten")
		}, "2s").Should(Succeed())

		By("an upload made by hand (kubeadm init phase upload-certs) is not overwritten either")
		Eventually(func() error {
			var kc corev1.Secret
			if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-system", Name: "kubeadm-certs"}, &kc); err != nil {
				return err
			}
			// As kubeadm does: new ciphertexts under its own key, and none of hacp's labels.
			delete(kc.Labels, LabelHAControlPlane)
			for k, v := range kc.Data {
				kc.Data[k] = append(append([]byte(nil), v...), 0)
			}
			return k8sClient.Update(ctx, &kc)
		}).Should(Succeed())
		nudge(rival)
		Eventually(func(g Gomega) {
			g.Expect(joinCondition(g, rival).Message).To(ContainSubstring("uploaded by someone outside hacp (kubeadm init phase upload-certs --upload-certs)"))
		}).Should(Succeed())
	})
})

// openGCM decrypts by the documented format alone: 12-byte nonce || AES-256-GCM.
func openGCM(hexKey string, blob []byte) []byte {
	key, err := hex.DecodeString(hexKey)
	Expect(err).NotTo(HaveOccurred())
	block, err := aes.NewCipher(key)
	Expect(err).NotTo(HaveOccurred())
	gcm, err := cipher.NewGCM(block)
	Expect(err).NotTo(HaveOccurred())
	plain, err := gcm.Open(nil, blob[:12], blob[12:], nil)
	Expect(err).NotTo(HaveOccurred())
	return plain
}
