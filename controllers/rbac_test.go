package controllers

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// The suite's manager runs as an administrator, so RBAC is tested here on its own: the manager's
// RBAC from config/default is installed for real, and clients impersonate the manager's and an
// agent's ServiceAccounts.
var _ = Describe("RBAC", Ordered, func() {
	as := func(user string) client.Client {
		c := rest.CopyConfig(cfg)
		c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:authenticated"}}
		cl, err := client.New(c, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		return cl
	}

	BeforeAll(func() {
		objs := kustomizeBuild("default")
		// Namespaces first, then what lives in them.
		for _, kinds := range [][]string{{"Namespace"}, {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}} {
			for _, u := range objs {
				if slices.Contains(kinds, u.GetKind()) {
					Expect(k8sClient.Patch(ctx, u.DeepCopy(), client.Apply, client.FieldOwner("rbac-test"), client.ForceOwnership)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
				}
			}
		}
	})

	It("lets the manager create each VIPGroup's agent RBAC (it may only grant what it holds)", func() {
		manager := as("system:serviceaccount:hacp-system:hacp-manager")
		vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: "rbac-probe", Namespace: "kube-system"}}
		sa, role, rb := desiredAgentRBAC(vg)
		for _, o := range []client.Object{sa, role, rb} {
			Expect(manager.Create(ctx, o)).To(Succeed(), "%T", o)
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, o) })
		}
		By("and nothing outside the namespaces it manages")
		err := manager.Get(ctx, types.NamespacedName{Namespace: "default", Name: "anything"}, &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	})

	It("lets an agent read its config Secret, report on Pods and record events, and nothing more", func() {
		vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: "rbac-agent", Namespace: "kube-system"}}
		sa, role, rb := desiredAgentRBAC(vg)
		for _, o := range []client.Object{sa, role, rb} {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, o) })
		}
		mine := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: keepalivedSecretName(vg), Namespace: "kube-system"}}
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rbac-agent-other", Namespace: "kube-system"}}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rbac-agent-pod", Namespace: "kube-system"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "hacp:test"}}}}
		for _, o := range []client.Object{mine, other, pod} {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, o) })
		}

		// As kubelet mounts it: a token bound to the agent's own Pod (config/agent-policy checks it).
		ac := rest.CopyConfig(cfg)
		ac.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:" + sa.Name,
			Groups: []string{"system:serviceaccounts", "system:authenticated"},
			Extra:  map[string][]string{"authentication.kubernetes.io/pod-name": {pod.Name}}}
		agent, err := client.New(ac, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		Expect(agent.Get(ctx, client.ObjectKeyFromObject(mine), &corev1.Secret{})).To(Succeed())
		// The agent's informer lists and watches with a name field selector.
		Expect(agent.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system"), client.MatchingFields{"metadata.name": mine.Name})).To(Succeed())
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"hacp.dev/state":"MASTER"}}}`))
		Expect(agent.Patch(ctx, pod, patch)).To(Succeed())
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "rbac-agent-", Namespace: "kube-system"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "kube-system", Name: pod.Name},
			Reason:         "BootstrapRetired", Message: "test", Type: corev1.EventTypeNormal,
		}
		Expect(agent.Create(ctx, ev)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, ev) })

		forbidden := func(err error) {
			GinkgoHelper()
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		}
		forbidden(agent.Get(ctx, client.ObjectKeyFromObject(other), &corev1.Secret{}))
		forbidden(agent.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system")))
		forbidden(agent.Update(ctx, mine))
		forbidden(agent.Delete(ctx, pod))
		forbidden(agent.List(ctx, &corev1.PodList{}, client.InNamespace("kube-system")))
		forbidden(agent.Get(ctx, client.ObjectKeyFromObject(mine), &corev1.ConfigMap{}))
		forbidden(agent.List(ctx, &hacpv1.VIPGroupList{}, client.InNamespace("kube-system")))
	})
})
