package joinmaterial

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// DefaultNodeTokenGroup is the group kubeadm gives join tokens; its RBAC lets nodes bootstrap.
const DefaultNodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token"

// Token is a bootstrap token.
type Token struct {
	ID, Secret string
	Expires    time.Time
}

// String is the token as kubeadm join takes it.
func (t Token) String() string { return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret) }

// NewToken makes a random token ([a-z0-9]{6}.[a-z0-9]{16}).
func NewToken(expires time.Time) (Token, error) {
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return Token{}, err
	}
	id, secret, _ := strings.Cut(s, ".")
	return Token{ID: id, Secret: secret, Expires: expires.UTC().Truncate(time.Second)}, nil
}

// TokenSecret is the kube-system Secret for a join token, as `kubeadm token create` writes it.
func TokenSecret(t Token, description string, labels map[string]string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: bootstraputil.BootstrapTokenSecretName(t.ID), Namespace: metav1.NamespaceSystem, Labels: labels,
		},
		Type: bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:               []byte(t.ID),
			bootstrapapi.BootstrapTokenSecretKey:           []byte(t.Secret),
			bootstrapapi.BootstrapTokenExpirationKey:       []byte(t.Expires.UTC().Format(time.RFC3339)),
			bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
			bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
			bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(DefaultNodeTokenGroup),
			bootstrapapi.BootstrapTokenDescriptionKey:      []byte(description),
		},
	}
}

// ProxyTokenSecret is the usage-less token kubeadm makes to own kubeadm-certs: when the token
// cleaner deletes it at expiry, the garbage collector deletes the certificates.
func ProxyTokenSecret(t Token, description string, labels map[string]string) *corev1.Secret {
	s := TokenSecret(t, description, labels)
	delete(s.Data, bootstrapapi.BootstrapTokenUsageAuthentication)
	delete(s.Data, bootstrapapi.BootstrapTokenUsageSigningKey)
	delete(s.Data, bootstrapapi.BootstrapTokenExtraGroupsKey)
	return s
}

// TokenFromSecret reads a bootstrap-token Secret.
func TokenFromSecret(s *corev1.Secret) (Token, error) {
	if s.Type != bootstrapapi.SecretTypeBootstrapToken {
		return Token{}, fmt.Errorf("secret %s is of type %q", s.Name, s.Type)
	}
	t := Token{ID: string(s.Data[bootstrapapi.BootstrapTokenIDKey]), Secret: string(s.Data[bootstrapapi.BootstrapTokenSecretKey])}
	if !bootstraputil.IsValidBootstrapToken(t.String()) {
		return Token{}, fmt.Errorf("secret %s does not hold a valid token", s.Name)
	}
	exp, err := time.Parse(time.RFC3339, string(s.Data[bootstrapapi.BootstrapTokenExpirationKey]))
	if err != nil {
		return Token{}, fmt.Errorf("secret %s: expiration: %w", s.Name, err)
	}
	t.Expires = exp
	return t, nil
}

// SortTokens orders tokens by expiry, latest first.
func SortTokens(ts []Token) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].Expires.Equal(ts[j].Expires) {
			return ts[i].Expires.After(ts[j].Expires)
		}
		return ts[i].ID < ts[j].ID
	})
}
