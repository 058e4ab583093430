package controllers

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/etcdprobe"
)

// etcdAnnotation is where kubeadm records an etcd member's client URLs on its mirror pod.
const etcdAnnotation = "kubeadm.kubernetes.io/etcd.advertise-client-urls"

// HAControlPlaneReconciler reports quorum health and keeps join material valid.
type HAControlPlaneReconciler struct {
	client.Client
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Clock     clock.Clock
	Recorder  events.EventRecorder
	Etcd      etcdprobe.Prober
	// EtcdPeriod is how often etcd is re-probed: a dead member sends no event.
	EtcdPeriod time.Duration
	// Certs reads the control plane's served certificates, each at most once per its period.
	Certs *certificateCache
	// NodeName is the node the manager runs on: its certificate files are compared with what is served.
	NodeName string

	deadMemory deadMemberMemory
}

// +kubebuilder:rbac:groups=hacp.dev,resources=hacontrolplanes,verbs=get;list;watch
// +kubebuilder:rbac:groups=hacp.dev,resources=hacontrolplanes/status,verbs=get;patch;update

// Reconcile brings one HAControlPlane's status (and join material) up to date: it observes,
// computes the status (desiredHAControlPlane, pure), keeps the join material valid and writes the
// status once.
func (r *HAControlPlaneReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var hcp hacpv1.HAControlPlane
	if live, err := getLive(ctx, r.Client, req.NamespacedName, &hcp); !live {
		return ctrl.Result{}, err
	}
	o, err := r.observe(ctx, &hcp)
	if err != nil {
		return ctrl.Result{}, r.observeFailed(ctx, &hcp, err)
	}
	d := desiredHAControlPlane(&hcp, o)
	next, jmErr := r.reconcileJoinMaterial(ctx, &hcp, &d.status)
	if jmErr != nil {
		// JoinMaterialReady must not stay True while the material is not kept valid.
		setCondition(&d.status.Conditions, hcp.Generation, hacpv1.ConditionJoinMaterialReady, metav1.ConditionFalse, hacpv1.ReasonFailed,
			truncate(jmErr.Error()+"; the published join commands may be out of date (hacpctl join refuses expired ones)", 2048))
	}
	if err := applyStatus(ctx, r.Client, &hcp, &d.status); err != nil {
		return ctrl.Result{}, err
	}
	r.recordMetrics(&hcp, &d.status)
	recordEvents(r.Recorder, &hcp, d.events)
	if jmErr != nil {
		return ctrl.Result{}, jmErr
	}
	return refreshed(ctrl.Result{RequeueAfter: r.requeueAfter(&hcp, next)}), nil
}

// observeFailed writes what can be said when the cluster's state cannot be read: why, rather than
// the last answers. It returns err.
func (r *HAControlPlaneReconciler) observeFailed(ctx context.Context, hcp *hacpv1.HAControlPlane, err error) error {
	status := hcp.Status.DeepCopy()
	status.ObservedGeneration = hcp.Generation
	msg := truncate("reading the cluster's state: "+err.Error(), 2048)
	for _, typ := range []string{hacpv1.ConditionQuorumHealthy, hacpv1.ConditionVIPReady, hacpv1.ConditionAvailable} {
		setCondition(&status.Conditions, hcp.Generation, typ, metav1.ConditionUnknown, hacpv1.ReasonObserveFailed, msg)
	}
	if serr := applyStatus(ctx, r.Client, hcp, status); serr != nil {
		log.FromContext(ctx).Error(serr, "Writing the status after a failure", "hacontrolplane", klog.KObj(hcp))
	}
	return err
}

// requeueAfter is when to look again without an event: etcd and the certificates are re-probed
// each period (a dead member or an expiring certificate sends none), and the join material acts
// after next.
func (r *HAControlPlaneReconciler) requeueAfter(hcp *hacpv1.HAControlPlane, next time.Duration) time.Duration {
	var after time.Duration
	if r.Certs != nil && r.Certs.read != nil {
		after = r.Certs.period
	}
	if hcp.Spec.Etcd != nil && (after == 0 || r.EtcdPeriod < after) {
		after = r.EtcdPeriod
	}
	if next > 0 && (after == 0 || next < after) {
		after = next
	}
	return after
}

// observe reads everything the status is computed from. Dead etcd members are removed first
// (spec.etcd.removeDeadMembers), so that tolerance and what-if follow the new membership at once.
//
// The served certificates are read while etcd is probed: both wait on the network, and a node that
// just lost power makes each wait out its timeout (2 s). In turn they held back the first status
// of a manager that took over from a leader on that node.
func (r *HAControlPlaneReconciler) observe(ctx context.Context, hcp *hacpv1.HAControlPlane) (observed, error) {
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes, client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(hcp.Spec.ControlPlaneSelector.AsMap())}); err != nil {
		return observed{}, err
	}
	certs := make(chan []certexpiry.Observed, 1)
	go func() { certs <- r.observeCertificates(ctx, hcp, nodes.Items) }()
	o, err := r.observeCluster(ctx, hcp, nodes.Items)
	o.certificates = <-certs
	if err != nil {
		return o, err
	}
	var removed bool
	if o.dead, removed = r.deadMembers(ctx, hcp, o.etcd, o.etcdEndpoints); removed {
		o.etcd, o.etcdErr = r.probeEtcd(ctx, hcp, o.etcdEndpoints)
	}
	o.now = r.Clock.Now()
	return o, nil
}

// observeCluster reads, besides the control plane's Nodes (listed by observe), kubeadm's mirror
// pods, etcd and the VIPGroup.
func (r *HAControlPlaneReconciler) observeCluster(ctx context.Context, hcp *hacpv1.HAControlPlane, nodes []corev1.Node) (observed, error) {
	o := observed{nodes: nodes}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(metav1.NamespaceSystem), client.MatchingLabels{contract.LabelTier: contract.TierControlPlane}); err != nil {
		return o, err
	}
	o.apiServers, o.etcdPods = map[string]*corev1.Pod{}, map[string]*corev1.Pod{}
	var endpoints []string
	for i := range pods.Items {
		p := &pods.Items[i]
		switch p.Labels[kubeadmComponentLabel] {
		case "kube-apiserver":
			o.apiServers[p.Spec.NodeName] = p
		case "etcd":
			o.etcdPods[p.Spec.NodeName] = p
			if u := p.Annotations[etcdAnnotation]; u != "" {
				endpoints = append(endpoints, u)
			}
		}
	}
	if e := hcp.Spec.Etcd; e != nil && r.Etcd != nil {
		if len(e.Endpoints) > 0 {
			endpoints = e.Endpoints
		}
		o.etcdEndpoints = endpoints
		o.etcd, o.etcdErr = r.probeEtcd(ctx, hcp, endpoints)
	}
	if ref := hcp.Spec.VIPGroupRef; ref != nil {
		var vg hacpv1.VIPGroup
		if err := r.Get(ctx, types.NamespacedName{Namespace: hcp.Namespace, Name: ref.Name}, &vg); err != nil {
			o.vipGroupErr = err
		} else {
			o.vipGroup = &vg
		}
	}
	return o, nil
}

func (r *HAControlPlaneReconciler) probeEtcd(ctx context.Context, hcp *hacpv1.HAControlPlane, endpoints []string) (*etcdprobe.Cluster, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("no endpoints: set spec.etcd.endpoints or run kubeadm's etcd mirror pods")
	}
	tlsCfg, err := r.etcdTLS(ctx, hcp)
	if err != nil {
		return nil, err
	}
	return r.Etcd.Probe(ctx, endpoints, tlsCfg)
}

// etcdTLS reads the etcd client certificate from spec.etcd.clientSecretRef or, when that is
// absent, kubeadm's apiserver-etcd-client files in the manager's PKI directory (CONFIG=with-pki).
func (r *HAControlPlaneReconciler) etcdTLS(ctx context.Context, hcp *hacpv1.HAControlPlane) (*tls.Config, error) {
	ref := hcp.Spec.Etcd.ClientSecretRef
	if ref == nil {
		dir := pkiDir(hcp)
		var pem [3][]byte
		for i, f := range []string{"etcd/ca.crt", "apiserver-etcd-client.crt", "apiserver-etcd-client.key"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return nil, fmt.Errorf("spec.etcd has no clientSecretRef, so the etcd client certificate comes from kubeadm's files in %s, which the manager cannot read (deploy it with CONFIG=with-pki, or name a Secret): %w", dir, err)
			}
			pem[i] = b
		}
		tlsCfg, err := etcdprobe.TLSConfig(pem[0], pem[1], pem[2])
		if err != nil {
			return nil, fmt.Errorf("kubeadm's etcd client certificate in %s: %w", dir, err)
		}
		return tlsCfg, nil
	}
	var s corev1.Secret
	key := types.NamespacedName{Namespace: hcp.Namespace, Name: ref.Name}
	if err := r.APIReader.Get(ctx, key, &s); err != nil {
		return nil, fmt.Errorf("etcd client Secret %s: %w", key, err)
	}
	tlsCfg, err := etcdprobe.TLSConfig(s.Data["ca.crt"], s.Data["tls.crt"], s.Data["tls.key"])
	if err != nil {
		return nil, fmt.Errorf("etcd client Secret %s: %w", key, err)
	}
	return tlsCfg, nil
}

func (r *HAControlPlaneReconciler) recordMetrics(hcp *hacpv1.HAControlPlane, st *hacpv1.HAControlPlaneStatus) {
	ns, name := hcp.Namespace, hcp.Name
	if q := st.Quorum; q != nil {
		metricVoters.WithLabelValues(ns, name).Set(float64(q.Voters))
		metricHealthy.WithLabelValues(ns, name).Set(float64(q.Healthy))
		metricTolerance.WithLabelValues(ns, name).Set(float64(q.FailureTolerance))
	}
	metricVIPMaster.DeletePartialMatch(map[string]string{"namespace": ns, "name": name})
	if st.VIPMaster != "" {
		metricVIPMaster.WithLabelValues(ns, name, st.VIPMaster).Set(1)
	}
	if jm := st.JoinMaterial; jm != nil && jm.TokenExpiresAt != nil {
		metricTokenExpiry.WithLabelValues(ns, name).Set(float64(jm.TokenExpiresAt.Unix()))
	}
	metricCertificateExpiry.DeletePartialMatch(map[string]string{"namespace": ns, "name": name})
	for _, c := range st.Certificates {
		if c.NotAfter != nil {
			metricCertificateExpiry.WithLabelValues(ns, name, c.Node, c.Component).Set(float64(c.NotAfter.Unix()))
		}
	}
}

// kubeadmComponentLabel names a kubeadm static Pod's component (kube-apiserver, etcd, ...).
const kubeadmComponentLabel = "component"

// kubeadmMemberPod selects the only Pods an HAControlPlane reads: kubeadm's kube-apiserver and
// etcd mirror Pods. The Pod cache also holds hacp's agents, which rewrite their reports every
// contract.HeartbeatInterval, and every reconcile probes etcd: unfiltered, three agents had the
// manager probe etcd about 1.5 times a second instead of every EtcdPeriod (the kubeadm lab's
// idle CPU showed it in etcd, kube-apiserver and the manager).
func kubeadmMemberPod(o client.Object) bool {
	if o.GetNamespace() != metav1.NamespaceSystem {
		return false
	}
	c := o.GetLabels()[kubeadmComponentLabel]
	return c == "kube-apiserver" || c == "etcd"
}

// SetupWithManager registers the reconciler and what it watches.
func (r *HAControlPlaneReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list hacpv1.HAControlPlaneList
		if err := mgr.GetClient().List(ctx, &list); err != nil {
			return nil
		}
		out := make([]reconcile.Request, len(list.Items))
		for i, h := range list.Items {
			out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: h.Namespace, Name: h.Name}}
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&hacpv1.HAControlPlane{}).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Node{}, all).
		Watches(&corev1.Pod{}, all, builder.WithPredicates(predicate.NewPredicateFuncs(kubeadmMemberPod))).
		Watches(&hacpv1.VIPGroup{}, all).
		Named("hacontrolplane").
		Complete(r)
}
