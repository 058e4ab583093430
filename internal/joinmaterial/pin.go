package joinmaterial

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// CACertHashes returns kubeadm's discovery pins, "sha256:" + hex(SHA-256 of the DER
// SubjectPublicKeyInfo), for every certificate in caPEM (a bundle may hold several).
func CACertHashes(caPEM []byte) ([]string, error) {
	var out []string
	rest := caPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing CA certificate: %w", err)
		}
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		out = append(out, "sha256:"+hex.EncodeToString(sum[:]))
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// CAFromClusterInfo reads the CA kubeadm publishes in kube-public/cluster-info.
func CAFromClusterInfo(cm *corev1.ConfigMap) ([]byte, error) {
	raw, ok := cm.Data[bootstrapapi.KubeConfigKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %q key", cm.Namespace, cm.Name, bootstrapapi.KubeConfigKey)
	}
	cfg, err := clientcmd.Load([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: kubeconfig: %w", cm.Namespace, cm.Name, err)
	}
	for _, c := range cfg.Clusters {
		if len(c.CertificateAuthorityData) > 0 {
			return c.CertificateAuthorityData, nil
		}
	}
	return nil, fmt.Errorf("ConfigMap %s/%s: kubeconfig has no certificate-authority-data", cm.Namespace, cm.Name)
}
