package keepalived

import (
	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// Defaulted returns spec with the CRD's defaults filled in, for specs that never passed through
// the API server (hacpctl render reads them from files). The envtest suite checks that it agrees
// with the API server's own defaulting.
func Defaulted(spec hacpv1.VIPGroupSpec) hacpv1.VIPGroupSpec {
	s := *spec.DeepCopy()
	if s.AdvertisementIntervalMilliseconds == 0 {
		s.AdvertisementIntervalMilliseconds = 1000
	}
	if s.VRRPVersion == 0 {
		s.VRRPVersion = 2
	}
	if s.NodeSelector == nil {
		s.NodeSelector = hacpv1.LabelSet{"node-role.kubernetes.io/control-plane": ""}
	}
	if s.Preemption == "" {
		s.Preemption = hacpv1.PreemptionDisabled
	}
	if s.PasswordSecretRef != nil && s.PasswordSecretRef.Key == "" {
		s.PasswordSecretRef.Key = "password"
	}
	hc := &s.HealthCheck
	if hc.Mode == "" {
		hc.Mode = hacpv1.HealthCheckQuorumAware
	}
	if hc.APIServerPort == 0 {
		hc.APIServerPort = 6443
	}
	if hc.Path == "" {
		hc.Path = "/readyz"
	}
	if hc.IntervalSeconds == 0 {
		hc.IntervalSeconds = 1
	}
	if hc.TimeoutMilliseconds == 0 {
		hc.TimeoutMilliseconds = 800
	}
	if hc.Fall == 0 {
		hc.Fall = 3
	}
	if hc.Rise == 0 {
		hc.Rise = 2
	}
	return s
}
