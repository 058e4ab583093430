package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/etcdprobe"
	"hacp.dev/hacp/internal/keepalived"
)

// DefaultNodeCacheSelector is the label every Node the operator can see must carry. Caching only
// control-plane Nodes keeps the manager's memory flat on clusters with thousands of workers.
const DefaultNodeCacheSelector = "node-role.kubernetes.io/control-plane"

// NewScheme returns a scheme with the built-in kinds and hacp's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := hacpv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// CacheOptions restricts the informers to what the reconcilers read: Nodes matching
// nodeSelector, control-plane Pods (kubeadm's mirror pods and hacp's agents carry
// tier=control-plane), and Secrets and DaemonSets that hacp manages. Production, the envtest suite
// and the demo all use these options, so tests see what the manager sees.
// Reads of objects outside these selectors (a user's VRRP password Secret, kubeadm's
// cluster-info) go through the API reader, uncached.
//
// namespaces limits every namespaced informer to the namespaces hacp manages (its Role grants
// Secret access there and nowhere else); empty means all namespaces (tests, the demo).
func CacheOptions(nodeSelector string, namespaces ...string) (cache.Options, error) {
	nodeSel, err := labels.Parse(nodeSelector)
	if err != nil {
		return cache.Options{}, fmt.Errorf("node cache selector %q: %w", nodeSelector, err)
	}
	managed, _ := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{LabelManagedByValue})
	tier, _ := labels.NewRequirement(contract.LabelTier, selection.Equals, []string{contract.TierControlPlane})
	var defaultNamespaces map[string]cache.Config
	if len(namespaces) > 0 {
		defaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			defaultNamespaces[ns] = cache.Config{}
		}
	}
	return cache.Options{
		DefaultNamespaces: defaultNamespaces,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Node{}:      {Label: nodeSel},
			&corev1.Pod{}:       {Label: labels.NewSelector().Add(*tier)},
			&corev1.Secret{}:    {Label: labels.NewSelector().Add(*managed)},
			&appsv1.DaemonSet{}: {Label: labels.NewSelector().Add(*managed)},
			// Only the agents' RBAC objects hacp owns, not every Role in the cluster.
			&rbacv1.Role{}:           {Label: labels.NewSelector().Add(*managed)},
			&rbacv1.RoleBinding{}:    {Label: labels.NewSelector().Add(*managed)},
			&corev1.ServiceAccount{}: {Label: labels.NewSelector().Add(*managed)},
		},
	}, nil
}

// Config carries what the reconcilers need beyond the manager.
type Config struct {
	// Clock is injected so time-driven decisions can be tested; nil means the real clock.
	Clock clock.Clock
	// AgentImage is the default image for agent DaemonSets.
	AgentImage string
	// Etcd probes etcd clusters; nil means the real client.
	Etcd etcdprobe.Prober
	// EtcdPeriod is how often etcd is re-probed; zero means 5s (a lost member shows within a probe
	// period plus the probe timeout).
	EtcdPeriod time.Duration
	// KeepalivedOptions are the node-side paths in the agent image; zero means the defaults.
	KeepalivedOptions keepalived.Options
	// CertificatePeriod is how often served certificates are read again; zero means 10 minutes.
	CertificatePeriod time.Duration
	// ReadCertificates reads served certificates (certexpiry.ReadAll: a TLS handshake with each);
	// nil reads none, and CertificatesValid says so. The manager sets it; tests and the demo,
	// whose Nodes have addresses outside this machine, give one that dials only their own servers.
	ReadCertificates func(ctx context.Context, targets []certexpiry.Target, timeout time.Duration) []certexpiry.Observed
	// NodeName is the manager's node, whose certificate files it compares with what is served.
	NodeName string
}

// SetupReconcilers registers both reconcilers with mgr.
func SetupReconcilers(mgr ctrl.Manager, cfg Config) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.KeepalivedOptions == (keepalived.Options{}) {
		cfg.KeepalivedOptions = keepalived.DefaultOptions()
	}
	vgr := &VIPGroupReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Scheme:     mgr.GetScheme(),
		Clock:      cfg.Clock,
		Recorder:   mgr.GetEventRecorder("hacp"),
		AgentImage: cfg.AgentImage,
		Options:    cfg.KeepalivedOptions,
	}
	if err := vgr.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up VIPGroup reconciler: %w", err)
	}
	if cfg.Etcd == nil {
		cfg.Etcd = etcdprobe.Client{Timeout: 2 * time.Second}
	}
	if cfg.EtcdPeriod == 0 {
		cfg.EtcdPeriod = 5 * time.Second
	}
	if cfg.CertificatePeriod == 0 {
		cfg.CertificatePeriod = DefaultCertificatePeriod
	}
	hcr := &HAControlPlaneReconciler{
		Certs:      &certificateCache{read: cfg.ReadCertificates, period: cfg.CertificatePeriod, urgentPeriod: time.Minute},
		NodeName:   cfg.NodeName,
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Scheme:     mgr.GetScheme(),
		Clock:      cfg.Clock,
		Recorder:   mgr.GetEventRecorder("hacp"),
		Etcd:       cfg.Etcd,
		EtcdPeriod: cfg.EtcdPeriod,
	}
	if err := hcr.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up HAControlPlane reconciler: %w", err)
	}
	return nil
}
