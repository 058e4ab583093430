// Command manager runs hacp's reconcilers.
package main

import (
	"flag"
	"os"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"hacp.dev/hacp/controllers"
)

func main() {
	var (
		metricsAddr   string
		probeAddr     string
		leaderElect   bool
		leaseDuration time.Duration
		renewDeadline time.Duration
		retryPeriod   time.Duration
		nodeSelector  string
		agentImage    string
		leaderElectNS string
		namespaces    string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one of several replicas reconciles.")
	flag.StringVar(&leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the Pod's namespace).")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a standby waits before taking over a lease that was not renewed.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before giving up leadership.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates retry.")
	flag.StringVar(&nodeSelector, "node-cache-selector", controllers.DefaultNodeCacheSelector, "Label selector of the Nodes the manager caches; VIPGroups and HAControlPlanes only see these Nodes.")
	flag.StringVar(&agentImage, "agent-image", os.Getenv("HACP_AGENT_IMAGE"), "Default image for agent DaemonSets (env HACP_AGENT_IMAGE).")
	flag.StringVar(&namespaces, "namespaces", "kube-system", "Comma-separated namespaces whose HAControlPlanes and VIPGroups hacp manages; its Role must grant Secret access there. Empty means all namespaces (needs cluster-wide Secret access).")
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
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        controllers.NewScheme(),
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
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
	if err := controllers.SetupReconcilers(mgr, controllers.Config{AgentImage: agentImage}); err != nil {
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
