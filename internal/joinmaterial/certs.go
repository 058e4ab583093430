package joinmaterial

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KubeadmCertsSecret is where kubeadm uploads control-plane certificates.
const KubeadmCertsSecret = "kubeadm-certs"

// CertFiles are the pki files kubeadm uploads, relative to the pki directory.
func CertFiles(externalEtcd bool) []string {
	files := []string{"ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key"}
	if externalEtcd {
		return append(files, "apiserver-etcd-client.crt", "apiserver-etcd-client.key", "etcd/ca.crt")
	}
	return append(files, "etcd/ca.crt", "etcd/ca.key")
}

// DataKey is the Secret key kubeadm uses for a pki file: the path with '/' turned into '-', and
// for external etcd the files kubeadm names external-etcd-*.
func DataKey(file string, externalEtcd bool) string {
	if externalEtcd {
		switch file {
		case "etcd/ca.crt":
			return "external-etcd-ca.crt"
		case "apiserver-etcd-client.crt":
			return "external-etcd.crt"
		case "apiserver-etcd-client.key":
			return "external-etcd.key"
		}
	}
	return strings.ReplaceAll(file, "/", "-")
}

// NewCertificateKey is 32 random bytes, hex-encoded (64 characters), as kubeadm makes it.
func NewCertificateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ReadPKI reads the files kubeadm uploads from dir.
func ReadPKI(dir string, externalEtcd bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range CertFiles(externalEtcd) {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, f), err)
		}
		out[f] = b
	}
	return out, nil
}

// Encrypt seals data with AES-256-GCM under the hex key: a 12-byte nonce followed by the
// ciphertext and tag, no additional data. This is what kubeadm join decrypts.
func Encrypt(hexKey string, data []byte) ([]byte, error) {
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("certificate key must be 64 hex characters")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, data, nil), nil
}

// Opens reports whether hexKey decrypts every entry of data (kubeadm-certs' data) the way kubeadm
// join does: a published key that does not open the uploaded certificates is a join that fails.
func Opens(hexKey string, data map[string][]byte) bool {
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 || len(data) == 0 {
		return false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return false
	}
	for _, blob := range data {
		if len(blob) < gcm.NonceSize() {
			return false
		}
		if _, err := gcm.Open(nil, blob[:gcm.NonceSize()], blob[gcm.NonceSize():], nil); err != nil {
			return false
		}
	}
	return true
}

// CertsSecret is kube-system/kubeadm-certs with every pki file encrypted under key, owned by the
// proxy token so that it is garbage collected when the token expires.
func CertsSecret(key string, files map[string][]byte, externalEtcd bool, owner metav1.OwnerReference, labels map[string]string) (*corev1.Secret, error) {
	data := map[string][]byte{}
	for f, b := range files {
		enc, err := Encrypt(key, b)
		if err != nil {
			return nil, err
		}
		data[DataKey(f, externalEtcd)] = enc
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: KubeadmCertsSecret, Namespace: metav1.NamespaceSystem, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}, nil
}
