// Package testenv starts what hacp's envtest suites share: kube-apiserver and etcd with hacp's
// CRDs, and a manager with the options cmd/manager uses, so that a suite that passes here passes
// with the restricted informers the real manager has.
package testenv

import (
	"path/filepath"
	goruntime "runtime"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// CRDDir is hacp's generated CRDs, config/crd/bases, found from this file whatever the suite's
// folder.
func CRDDir() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "config", "crd", "bases")
}

// Start starts kube-apiserver and etcd (KUBEBUILDER_ASSETS) and installs hacp's CRDs. The caller
// stops the environment.
func Start() (*envtest.Environment, *rest.Config, error) {
	env := &envtest.Environment{CRDDirectoryPaths: []string{CRDDir()}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	return env, cfg, err
}

// NewManager is a manager with cmd/manager's options: scheme, and cacheOpts, which callers take
// from controllers.CacheOptions (passed in because the controllers package's own suite cannot
// import a package that imports it). It has no metrics or health listener, and its controller
// names may repeat (several managers in one process). tweaks adjust the options further.
func NewManager(cfg *rest.Config, scheme *runtime.Scheme, cacheOpts cache.Options, tweaks ...func(*ctrl.Options)) (ctrl.Manager, error) {
	opts := ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	}
	for _, t := range tweaks {
		t(&opts)
	}
	return ctrl.NewManager(cfg, opts)
}
