// Command manager runs hacp's reconcilers.
package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"hacp.dev/hacp/controllers"
	"hacp.dev/hacp/internal/apiclient"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/version"
)

func main() {
	var (
		metricsAddr   string
		metricsSecure bool
		probeAddr     string
		leaderElect   bool
		leaseDuration time.Duration
		renewDeadline time.Duration
		retryPeriod   time.Duration
		nodeSelector  string
		agentImage    string
		leaderElectNS string
		namespaces    string
		localAPI      string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to callers the API server authenticates and authorizes for GET /metrics (ClusterRole hacp-metrics-reader); false serves plain HTTP to anyone.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one of several replicas reconciles.")
	flag.StringVar(&leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the Pod's namespace).")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a standby waits before taking over a lease that was not renewed.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before giving up leadership.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates retry.")
	flag.StringVar(&nodeSelector, "node-cache-selector", controllers.DefaultNodeCacheSelector, "Label selector of the Nodes the manager caches; VIPGroups and HAControlPlanes only see these Nodes.")
	flag.StringVar(&agentImage, "agent-image", os.Getenv("HACP_AGENT_IMAGE"), "Default image for agent DaemonSets (env HACP_AGENT_IMAGE); empty means the manager's own image, read from its Pod (POD_NAMESPACE, POD_NAME).")
	flag.StringVar(&namespaces, "namespaces", "kube-system", "Comma-separated namespaces whose HAControlPlanes and VIPGroups hacp manages; its Role must grant Secret access there. Empty means all namespaces (needs cluster-wide Secret access).")
	flag.StringVar(&localAPI, "local-apiserver", "", "An API server to dial before the kubernetes Service (host:port), so that the manager needs no kube-proxy: config/manager passes its node's, $(HOST_IP):6443. Empty: the Service only.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	var nsList []string
	if namespaces != "" {
		nsList = strings.Split(namespaces, ",")
	}
	cacheOpts, err := controllers.CacheOptions(nodeSelector, nsList...)
	if err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: metricsSecure}
	if metricsSecure {
		// TokenReview and SubjectAccessReview per scrape, as kubebuilder's scaffold does; the
		// certificate is self-signed unless --metrics-cert-dir says otherwise.
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	restCfg := apiclient.LocalFirst(ctrl.GetConfigOrDie(), localAPI, time.Second)
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        controllers.NewScheme(),
		Cache:                         cacheOpts,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "hacp.dev",
		LeaderElectionNamespace:       leaderElectNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}
	if agentImage == "" {
		agentImage, err = controllers.OwnImage(context.Background(), mgr.GetAPIReader(),
			os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"), controllers.ManagerContainer)
		if err != nil {
			setupLog.Error(err, "Unable to choose the agents' image")
			os.Exit(1)
		}
	}
	setupLog.Info("Agent image", "image", agentImage, "version", version.Version)
	cfg := controllers.Config{AgentImage: agentImage, ReadCertificates: certexpiry.ReadAll, NodeName: os.Getenv("NODE_NAME")}
	if err := controllers.SetupReconcilers(mgr, cfg); err != nil {
		setupLog.Error(err, "Unable to set up reconcilers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up ready check")
		os.Exit(1)
	}
	setupLog.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}
