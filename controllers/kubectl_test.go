package controllers

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/test/pki"
)

// readmeKubectl matches the kubectl get/wait commands the README shows, up to the end of the
// command (a pipe, redirect, command separator, comment or the end of a code span).
var readmeKubectl = regexp.MustCompile("kubectl (?:get|wait) [^`|>;#\n]*")

// readmeKubectlCommands returns every `kubectl get` and `kubectl wait` command in the README.
func readmeKubectlCommands() []string {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	Expect(err).NotTo(HaveOccurred())
	seen := map[string]bool{}
	var out []string
	for _, m := range readmeKubectl.FindAllString(string(data), -1) {
		m = strings.TrimSpace(m)
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// kubectlBinary is the real kubectl: the category/short-name clash only shows with kubectl's own
// resource resolution, which no Go client reproduces.
func kubectlBinary() string {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			Fail("kubectl is not installed: the README's kubectl commands are tested with the real binary")
		}
		Skip("kubectl is not installed: install it to test the README's kubectl commands")
	}
	return path
}

var _ = Describe("The README's kubectl commands, run by the real kubectl", func() {
	It("resolve hacp and vipg to one kind each, and work on the README's names", func() {
		kubectl := kubectlBinary()
		user, err := testEnv.AddUser(envtest.User{Name: "readme", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubeconfig, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600)).To(Succeed())

		By("the README's objects, in a namespace of this test, Ready and Available")
		tc := newTestCluster()
		node := tc.addNode("h1", "198.51.100.212")
		addMirrorPod("etcd", node.Name, true, map[string]string{etcdAnnotation: "https://198.51.100.212:2379"})
		addMirrorPod("kube-apiserver", node.Name, true, nil)
		vg := tc.vipGroup("kube-apiserver", 77, "198.51.100.208")
		Expect(k8sClient.Create(ctx, vg)).To(Succeed())
		h := tc.haControlPlane("kubernetes")
		h.Spec.ControlPlaneEndpoint = "198.51.100.208:6443"
		h.Spec.VIPGroupRef = &hacpv1.LocalObjectReference{Name: vg.Name}
		Expect(k8sClient.Create(ctx, h)).To(Succeed())
		var ci corev1.ConfigMap
		if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: "kube-public", Name: "cluster-info"}, &ci); err != nil {
			ca, err := pki.NewCA("kubernetes")
			Expect(err).NotTo(HaveOccurred())
			created := clusterInfo(ca.CertPEM)
			Expect(k8sClient.Create(ctx, created)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, created) })
			nudge(h)
		}
		var hash string
		Eventually(func(g Gomega) {
			text := configSecret(g, vg).Data[node.Name]
			g.Expect(text).NotTo(BeEmpty())
			hash = keepalivedHash(text)
		}).Should(Succeed())
		reportAgent(vg, node.Name, "MASTER", hash)
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(getVIPGroup(g, vg).Status.Conditions, hacpv1.ConditionReady)).To(BeTrue(), "%v", getVIPGroup(g, vg).Status.Conditions)
			g.Expect(meta.IsStatusConditionTrue(getHCP(g, h).Status.Conditions, hacpv1.ConditionAvailable)).To(BeTrue(), "%v", getHCP(g, h).Status.Conditions)
			g.Expect(getHCP(g, h).Status.JoinMaterial).NotTo(BeNil())
		}).Should(Succeed())

		run := func(command string) (string, string, error) {
			command = strings.ReplaceAll(command, "kube-system", tc.ns)
			cmd := exec.Command("sh", "-c", strings.Replace(command, "kubectl", kubectl, 1))
			cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"), "KUBECACHEDIR="+filepath.Join(dir, "cache"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			return stdout.String(), stderr.String(), err
		}

		commands := readmeKubectlCommands()
		Expect(commands).To(ContainElements(
			"kubectl get hacp kubernetes -n kube-system -o yaml",
			"kubectl wait --for=condition=Available hacp/kubernetes -n kube-system",
			"kubectl wait --for=condition=Ready vipg/kube-apiserver -n kube-system",
		), "the README's commands the issue names")
		for _, command := range commands {
			By(command)
			stdout, stderr, err := run(command)
			if strings.Contains(command, "hacp-bootstrap-") {
				// The README shows it to say that the bootstrap Pod is gone after the handover.
				Expect(err).To(HaveOccurred())
				Expect(stderr).To(ContainSubstring("NotFound"))
				continue
			}
			Expect(err).NotTo(HaveOccurred(), "%s\nstdout: %s\nstderr: %s", command, stdout, stderr)
			Expect(stderr).NotTo(ContainSubstring("error"), command)
		}

		By("kubectl get hacp lists HAControlPlanes only; the category lists both kinds")
		stdout, stderr, err := run("kubectl get hacp -n kube-system")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(stdout).To(ContainSubstring("TOLERANCE"))
		Expect(stdout).NotTo(ContainSubstring("VRID"))
		Expect(stdout).To(ContainSubstring("kubernetes"))
		Expect(stdout).NotTo(ContainSubstring("kube-apiserver"))
		stdout, stderr, err = run("kubectl get hacp kubernetes -n kube-system -o jsonpath={.kind}")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(stdout).To(Equal("HAControlPlane"))
		stdout, stderr, err = run("kubectl get vipg kube-apiserver -n kube-system -o jsonpath={.kind}")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(stdout).To(Equal("VIPGroup"))
		stdout, stderr, err = run("kubectl get hacp-all -n kube-system -o name")
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(strings.Fields(stdout)).To(ConsistOf("hacontrolplane.hacp.dev/kubernetes", "vipgroup.hacp.dev/kube-apiserver"))

		By("the join Secret the README reads holds the worker command")
		stdout, _, err = run(fmt.Sprintf("kubectl get secret %s -n kube-system -o jsonpath={.data.workerJoinCommand} | base64 -d", joinSecretName(h)))
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(HavePrefix("kubeadm join 198.51.100.208:6443 --token "))
	})
})
