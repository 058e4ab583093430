package controllers

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"hacp.dev/hacp/test/testenv"
)

var (
	cfg       *rest.Config
	k8sClient client.Client // direct, uncached: what a user or GitOps tool sees
	testEnv   *envtest.Environment
	ctx       context.Context
	cancel    context.CancelFunc
	// fakeClock drives time-based decisions (join material rotation); tests step it.
	fakeClock *clocktesting.FakeClock
)

func TestControllers(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KUBEBUILDER_ASSETS is not set; run through `make test`, which builds kube-apiserver and etcd")
		}
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test` (it provides kube-apiserver and etcd) to run the envtest suite")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	testEnv, cfg, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := NewScheme()
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// The same cache options as production: a test that passes here passes with the restricted
	// informers the real manager has.
	cacheOpts, err := CacheOptions(DefaultNodeCacheSelector)
	Expect(err).NotTo(HaveOccurred())
	mgr, err := testenv.NewManager(cfg, scheme, cacheOpts)
	Expect(err).NotTo(HaveOccurred())
	fakeClock = clocktesting.NewFakeClock(time.Now())
	Expect(SetupReconcilers(mgr, Config{AgentImage: "hacp:test", EtcdPeriod: time.Second, Clock: fakeClock,
		ReadCertificates: readTestCertificates, CertificatePeriod: time.Second})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
