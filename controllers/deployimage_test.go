package controllers

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/deploy"
	"hacp.dev/hacp/internal/manifest"
)

// renderDeploy renders config/<variant> exactly as `make deploy IMG=img` does.
func renderDeploy(variant, img string) map[string][]*unstructured.Unstructured {
	GinkgoHelper()
	out, err := deploy.Render(filepath.Join("..", "config", variant), img)
	Expect(err).NotTo(HaveOccurred())
	objs, err := manifest.Decode(out)
	Expect(err).NotTo(HaveOccurred())
	byKind := map[string][]*unstructured.Unstructured{}
	for _, u := range objs {
		byKind[u.GetKind()] = append(byKind[u.GetKind()], u)
	}
	return byKind
}

var _ = Describe("One image name everywhere", func() {
	It("gives the manager and the agent DaemonSet it creates the image of make deploy IMG=..., in both configs", func() {
		const img = "registry.example:5000/team/hacp:v1.2.3"
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "img-"}}
		Expect(k8sClient.Create(ctx, ns)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, ns) })
		for _, variant := range []string{"default", "with-pki"} {
			By(variant)
			objs := renderDeploy(variant, img)
			Expect(objs["Deployment"]).To(HaveLen(1))
			var d appsv1.Deployment
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(objs["Deployment"][0].Object, &d)).To(Succeed())
			// Every image in the rendered manifests is IMG: nothing else names hacp:dev.
			Expect(d.Spec.Template.Spec.Containers).To(HaveLen(1))
			Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(img))
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				Expect(e.Value).NotTo(ContainSubstring("hacp:"), "env %s names an image", e.Name)
			}
			// The manager's Pod as the Deployment makes it; the manager reads its own image from it.
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "hacp-manager-", Namespace: ns.Name},
				Spec:       d.Spec.Template.Spec,
			}
			pod.Spec.ServiceAccountName = ""
			Expect(k8sClient.Create(ctx, pod)).To(Succeed())
			got, err := OwnImage(ctx, k8sClient, ns.Name, pod.Name, ManagerContainer)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(img))
			// The DaemonSet the VIPGroup reconciler applies with that default image.
			vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: "kube-apiserver", Namespace: "kube-system"}}
			ds := desiredDaemonSet(vg, got, false)
			for _, c := range append(ds.Spec.Template.Spec.InitContainers, ds.Spec.Template.Spec.Containers...) {
				Expect(c.Image).To(Equal(img), "container %s", c.Name)
			}
			// A VIPGroup's spec.image still wins.
			vg.Spec.Image = "other.example/hacp:v9"
			Expect(desiredDaemonSet(vg, vg.Spec.Image, false).Spec.Template.Spec.Containers[0].Image).To(Equal("other.example/hacp:v9"))
		}
		_, err := OwnImage(ctx, k8sClient, "", "", ManagerContainer)
		Expect(err).To(MatchError(ContainSubstring("POD_NAMESPACE")))
	})

	It("serves metrics over HTTPS only to callers allowed to GET /metrics, with config/rbac's roles", func() {
		// A manager with the production metrics options.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		m, err := ctrl.NewManager(cfg, ctrl.Options{
			Scheme:  k8sClient.Scheme(),
			Metrics: metricsserver.Options{BindAddress: addr, SecureServing: true, FilterProvider: filters.WithAuthenticationAndAuthorization},
		})
		Expect(err).NotTo(HaveOccurred())
		mctx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		go func() { _ = m.Start(mctx) }()

		// config/rbac's metrics-reader ClusterRole, bound to one ServiceAccount and not to another.
		var reader rbacv1.ClusterRole
		for _, u := range renderDeploy("default", "hacp:dev")["ClusterRole"] {
			var cr rbacv1.ClusterRole
			Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cr)).To(Succeed())
			if cr.Name == "hacp-metrics-reader" {
				reader = cr
			}
		}
		Expect(reader.Rules).NotTo(BeEmpty(), "config/rbac has no hacp-metrics-reader ClusterRole")
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-"}}
		Expect(k8sClient.Create(ctx, ns)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, ns) })
		reader.ObjectMeta = metav1.ObjectMeta{Name: "hacp-metrics-reader-" + ns.Name}
		Expect(k8sClient.Create(ctx, &reader)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, &reader) })
		token := func(sa string) string {
			GinkgoHelper()
			Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns.Name}})).To(Succeed())
			cs := kubernetes.NewForConfigOrDie(cfg)
			tr, err := cs.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			return tr.Status.Token
		}
		allowed, denied := token("prometheus"), token("nosy")
		Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "hacp-metrics-reader-" + ns.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reader.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns.Name}},
		})).To(Succeed())

		httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		get := func(scheme, tok string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s://%s/metrics", scheme, addr), nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := httpc.Do(req)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		Eventually(func() int { code, _ := get("https", allowed); return code }, 20*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
		code, body := get("https", allowed)
		Expect(code).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring("controller_runtime"))
		code, _ = get("https", denied)
		Expect(code).To(Equal(http.StatusForbidden))
		code, _ = get("https", "")
		Expect(code).To(Equal(http.StatusUnauthorized))
		code, body = get("http", allowed)
		Expect(code == http.StatusBadRequest || strings.Contains(body, "malformed") || code == 0).To(BeTrue(), "plain HTTP must not be served: %d %s", code, body)
	})
})
