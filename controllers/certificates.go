package controllers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/joinmaterial"
)

// DefaultCertificatePeriod is how often served certificates are read again: they change only when
// renewed, and a year-long validity needs no faster watch.
const DefaultCertificatePeriod = 10 * time.Minute

const defaultWarnBefore = 30 * 24 * time.Hour

// onDiskFiles are kubeadm's files for the served certificates (certificates only, never keys),
// relative to the pki directory.
var onDiskFiles = map[certexpiry.Component]string{
	certexpiry.APIServer:  "apiserver.crt",
	certexpiry.EtcdServer: "etcd/server.crt",
	certexpiry.EtcdPeer:   "etcd/peer.crt",
}

// certificateCache reads each served certificate at most once per period, and once per
// urgentPeriod one that could not be read or expires within the warning window: once someone renews
// it and restarts the static Pod, the warning clears within a minute rather than ten.
type certificateCache struct {
	read         func(ctx context.Context, targets []certexpiry.Target, timeout time.Duration) []certexpiry.Observed
	period       time.Duration
	urgentPeriod time.Duration
	mu           sync.Mutex
	seen         map[certexpiry.Target]cachedCert
}

type cachedCert struct {
	at  time.Time
	obs certexpiry.Observed
}

func (c *certificateCache) get(ctx context.Context, now time.Time, warnBefore time.Duration, targets []certexpiry.Target) []certexpiry.Observed {
	if c == nil || c.read == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[certexpiry.Target]cachedCert{}
	}
	var stale []certexpiry.Target
	for _, t := range targets {
		e, ok := c.seen[t]
		period := c.period
		if ok && c.urgentPeriod > 0 && c.urgentPeriod < period && (!e.obs.Certified || e.obs.NotAfter.Sub(now) < warnBefore) {
			period = c.urgentPeriod
		}
		if !ok || now.Sub(e.at) >= period {
			stale = append(stale, t)
		}
	}
	if len(stale) > 0 {
		for _, o := range c.read(ctx, stale, 2*time.Second) {
			c.seen[o.Target] = cachedCert{at: now, obs: o}
		}
	}
	out := make([]certexpiry.Observed, 0, len(targets))
	for _, t := range targets {
		out = append(out, c.seen[t].obs)
	}
	return out
}

// observeCertificates reads the served certificates of every control-plane Node, the cluster CA
// from cluster-info, and, for the node the manager runs on, the same certificates' files.
func (r *HAControlPlaneReconciler) observeCertificates(ctx context.Context, hcp *hacpv1.HAControlPlane, nodes []corev1.Node) []certexpiry.Observed {
	if r.Certs == nil || r.Certs.read == nil {
		return nil
	}
	var targets []certexpiry.Target
	for i := range nodes {
		if ip := internalIP(&nodes[i]); ip != "" {
			targets = append(targets, certexpiry.NodeTargets(nodes[i].Name, ip)...)
		}
	}
	warn := defaultWarnBefore
	if w := hcp.Spec.Certificates.WarnBefore; w != nil {
		warn = w.Duration
	}
	obs := r.Certs.get(ctx, r.Clock.Now(), warn, targets)
	pki := pkiDir(hcp)
	for i := range obs {
		if obs[i].Node != r.NodeName || r.NodeName == "" {
			continue
		}
		if f, ok := onDiskFiles[obs[i].Component]; ok {
			if na, err := certificateFileNotAfter(filepath.Join(pki, f)); err == nil {
				obs[i].OnDisk = &na
			}
		}
	}
	var cm corev1.ConfigMap
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespacePublic, Name: bootstrapapi.ConfigMapClusterInfo}, &cm); err == nil {
		if pemCA, err := joinmaterial.CAFromClusterInfo(&cm); err == nil {
			for _, c := range parseCertificates(pemCA) {
				obs = append(obs, certexpiry.FromCertificate("", certexpiry.ClusterCA, c))
			}
		}
	}
	return obs
}

func certificateFileNotAfter(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	cs := parseCertificates(b)
	if len(cs) == 0 {
		return time.Time{}, fmt.Errorf("%s holds no certificate", path)
	}
	return cs[0].NotAfter.UTC(), nil
}

func parseCertificates(pemData []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// certificatesStatus turns the findings into status entries, the earliest expiry and the
// CertificatesValid condition.
func certificatesStatus(gen int64, now time.Time, spec hacpv1.CertificatesSpec, obs []certexpiry.Observed) ([]hacpv1.CertificateStatus, *metav1.Time, metav1.Condition) {
	warn := defaultWarnBefore
	if spec.WarnBefore != nil {
		warn = spec.WarnBefore.Duration
	}
	fs := certexpiry.Evaluate(now, warn, obs)
	list := make([]hacpv1.CertificateStatus, 0, len(fs))
	for _, f := range fs {
		cs := hacpv1.CertificateStatus{Node: f.Node, Component: string(f.Component), Severity: severityName(f.Severity), Message: truncate(f.Message, 512)}
		if f.Certified {
			t := metav1.NewTime(f.NotAfter)
			cs.NotAfter = &t
		}
		list = append(list, cs)
	}
	if len(list) > 128 {
		list = list[:128]
	}
	var earliest *metav1.Time
	if e, ok := certexpiry.Earliest(fs); ok {
		t := metav1.NewTime(e)
		earliest = &t
	}
	cond := metav1.Condition{Type: hacpv1.ConditionCertificatesValid, ObservedGeneration: gen}
	var bad []string
	for _, f := range fs {
		if f.Severity >= certexpiry.RenewedNotServed {
			bad = append(bad, f.Message)
		}
	}
	switch w := certexpiry.Worst(fs); {
	case len(fs) == 0 || (earliest == nil && w == certexpiry.Unreadable):
		cond.Status, cond.Reason = metav1.ConditionUnknown, hacpv1.ReasonNotObserved
		cond.Message = "no control-plane certificate could be read"
		if len(fs) == 0 {
			cond.Message = "no certificate was read (certificate reading is off, or no control-plane Node has an address)"
		}
		if len(fs) > 0 {
			cond.Message += ": " + fs[0].Message
		}
	case w == certexpiry.Expired:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, hacpv1.ReasonExpired, strings.Join(bad, "; ")
	case w == certexpiry.ExpiringSoon:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, hacpv1.ReasonExpiringSoon, strings.Join(bad, "; ")
	case w == certexpiry.RenewedNotServed:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, hacpv1.ReasonRenewedNotServed, strings.Join(bad, "; ")
	default:
		cond.Status, cond.Reason = metav1.ConditionTrue, hacpv1.ReasonCertificatesValid
		cond.Message = fmt.Sprintf("no certificate expires within %s; the earliest on %s", warn, earliest.UTC().Format(time.RFC3339))
		if w == certexpiry.Unreadable {
			cond.Message += "; some could not be read (see status.certificates)"
		}
	}
	cond.Message = truncate(cond.Message, 2048)
	return list, earliest, cond
}

func severityName(s certexpiry.Severity) string {
	switch s {
	case certexpiry.Expired:
		return "Expired"
	case certexpiry.ExpiringSoon:
		return "ExpiringSoon"
	case certexpiry.RenewedNotServed:
		return "RenewedNotServed"
	case certexpiry.Unreadable:
		return "Unreadable"
	default:
		return "OK"
	}
}
