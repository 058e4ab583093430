package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CertificatesSpec configures the certificate expiry watch.
type CertificatesSpec struct {
	// warnBefore is how long before a certificate's expiry CertificatesValid turns False
	// (default 30 days; kubeadm's certificates last a year).
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="warnBefore must be between 1h and 8760h (a year)"
	WarnBefore *metav1.Duration `json:"warnBefore,omitempty"`
}

// CertificateStatus is one certificate of the control plane, as its server presents it.
type CertificateStatus struct {
	// node is the control-plane Node that serves it; empty for a cluster-wide CA.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	Node string `json:"node,omitempty"`

	// component is what the certificate is for: kube-apiserver, etcd-server, etcd-peer, kubelet,
	// cluster-ca or front-proxy-ca.
	// +required
	// +kubebuilder:validation:MaxLength=32
	Component string `json:"component"`

	// notAfter is when it expires; absent when it could not be read.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// severity is OK, ExpiringSoon, Expired, RenewedNotServed (a newer certificate is on disk but
	// the server still presents the old one: restart its static Pod) or Unreadable.
	// +required
	// +kubebuilder:validation:Enum=OK;ExpiringSoon;Expired;RenewedNotServed;Unreadable
	Severity string `json:"severity,omitempty"`

	// message says what was found, in words.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:MinLength=1
	Message string `json:"message,omitempty"`
}
