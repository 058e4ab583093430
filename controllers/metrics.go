package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	metricVoters = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_etcd_voters", Help: "etcd members that vote (not learners).",
	}, []string{"namespace", "name"})
	metricHealthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_etcd_healthy_voters", Help: "Healthy etcd voters.",
	}, []string{"namespace", "name"})
	metricTolerance = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_failure_tolerance", Help: "How many more etcd voters may fail before quorum is lost (negative: lost).",
	}, []string{"namespace", "name"})
	metricVIPMaster = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_vip_master_info", Help: "1 for the node holding the control-plane endpoint's VIP.",
	}, []string{"namespace", "name", "node"})
	metricTokenExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_join_token_expiry_timestamp_seconds", Help: "When the current join token expires.",
	}, []string{"namespace", "name"})
	metricCertificateExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hacp_certificate_expiry_timestamp_seconds", Help: "When a control-plane certificate, as served, expires (node is empty for a CA).",
	}, []string{"namespace", "name", "node", "component"})
)

func init() {
	metrics.Registry.MustRegister(metricVoters, metricHealthy, metricTolerance, metricVIPMaster, metricTokenExpiry, metricCertificateExpiry)
}
