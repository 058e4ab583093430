package joinmaterial

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"hacp.dev/hacp/test/pki"
)

var tokenRE = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)

func TestTokenSecretIsKubeadms(t *testing.T) {
	exp := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tok, err := NewToken(exp)
	if err != nil {
		t.Fatal(err)
	}
	if !tokenRE.MatchString(tok.String()) {
		t.Fatalf("token %q does not match [a-z0-9]{6}.[a-z0-9]{16}", tok)
	}
	s := TokenSecret(tok, "made by hacp", map[string]string{"app.kubernetes.io/managed-by": "hacp"})
	if s.Name != "bootstrap-token-"+tok.ID || s.Namespace != "kube-system" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Fatalf("metadata %s/%s type %s", s.Namespace, s.Name, s.Type)
	}
	want := map[string]string{
		"token-id": tok.ID, "token-secret": tok.Secret, "expiration": "2026-12-01T12:00:00Z",
		"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
		"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token", "description": "made by hacp",
	}
	if len(s.Data) != len(want) {
		t.Errorf("keys %v", keys(s.Data))
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("%s = %q, want %q", k, s.Data[k], v)
		}
	}
	back, err := TokenFromSecret(s)
	if err != nil || back != tok {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	proxy := ProxyTokenSecret(tok, "proxy", nil)
	for _, k := range []string{"usage-bootstrap-authentication", "usage-bootstrap-signing", "auth-extra-groups"} {
		if _, ok := proxy.Data[k]; ok {
			t.Errorf("proxy token has %s: it must not authenticate anyone", k)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The pin computed a second way: hash of the marshalled public key.
func independentPin(t *testing.T, certPEM []byte) string {
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestCACertHashes(t *testing.T) {
	a, _ := pki.NewCA("kubernetes")
	b, _ := pki.NewCA("kubernetes-next")
	got, err := CACertHashes(append(append([]byte{}, a.CertPEM...), b.CertPEM...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != independentPin(t, a.CertPEM) || got[1] != independentPin(t, b.CertPEM) {
		t.Fatalf("pins %v", got)
	}
	if _, err := CACertHashes([]byte("not pem")); err == nil {
		t.Fatal("accepted garbage")
	}
}

func TestCAFromClusterInfo(t *testing.T) {
	ca, _ := pki.NewCA("kubernetes")
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: %s\n    server: https://192.168.1.8:6443\n",
		encodeB64(ca.CertPEM))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}, Data: map[string]string{"kubeconfig": kubeconfig}}
	got, err := CAFromClusterInfo(cm)
	if err != nil || string(got) != string(ca.CertPEM) {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := CAFromClusterInfo(&corev1.ConfigMap{}); err == nil || !strings.Contains(err.Error(), `no "kubeconfig" key`) {
		t.Fatalf("want a missing-key error, got %v", err)
	}
}

// decrypt follows the documented format only: a 12-byte nonce, then AES-256-GCM ciphertext.
func decrypt(t *testing.T, hexKey string, blob []byte) []byte {
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(c)
	if len(blob) < 12 {
		t.Fatal("blob shorter than a nonce")
	}
	plain, err := g.Open(nil, blob[:12], blob[12:], nil)
	if err != nil {
		t.Fatalf("decrypting: %v", err)
	}
	return plain
}

func TestKubeadmCertsRoundTrip(t *testing.T) {
	key, err := NewCertificateKey()
	if err != nil || len(key) != 64 {
		t.Fatalf("key %q %v", key, err)
	}
	for _, external := range []bool{false, true} {
		files := map[string][]byte{}
		for _, f := range CertFiles(external) {
			files[f] = []byte("contents of " + f)
		}
		owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Secret", Name: "bootstrap-token-abcdef", UID: "u"}
		s, err := CertsSecret(key, files, external, owner, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := "ca.crt ca.key etcd-ca.crt etcd-ca.key front-proxy-ca.crt front-proxy-ca.key sa.key sa.pub"
		if external {
			wantKeys = "ca.crt ca.key external-etcd-ca.crt external-etcd.crt external-etcd.key front-proxy-ca.crt front-proxy-ca.key sa.key sa.pub"
		}
		got := keys(s.Data)
		sort.Strings(got)
		if strings.Join(got, " ") != wantKeys {
			t.Fatalf("external=%v: data keys %v, want %s", external, got, wantKeys)
		}
		for f := range files {
			if plain := decrypt(t, key, s.Data[DataKey(f, external)]); string(plain) != "contents of "+f {
				t.Errorf("%s decrypts to %q", f, plain)
			}
		}
		if s.Name != "kubeadm-certs" || s.Namespace != "kube-system" || len(s.OwnerReferences) != 1 {
			t.Errorf("metadata %+v", s.ObjectMeta)
		}
	}
}

func TestCommands(t *testing.T) {
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	w := WorkerCommand("192.168.1.8:6443", tok, "sha256:00")
	if w != "kubeadm join 192.168.1.8:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00" {
		t.Fatal(w)
	}
	if c := ControlPlaneCommand("192.168.1.8:6443", tok, "sha256:00", "k"); c != w+" --control-plane --certificate-key k" {
		t.Fatal(c)
	}
}

// world is the API as a rotation sees it: hacp's tokens, kubeadm-certs (encrypted as kubeadm
// reads it) and the published join material.
type world struct {
	tokens    map[string]Token
	certsData map[string][]byte // kubeadm-certs' data; nil once garbage collected
	certsExp  time.Time
	published *Token
	pubKey    string
}

// reconcile runs one decision and applies it in the reconciler's order (retire, mint, upload,
// publish, delete), stopping after crashAfter writes (<0: no crash), and checks what a reader of
// the API would see after every write (not only once the reconcile is over: the soak found three
// live tokens between a mint and its delete). As the reconciler does, it reads the certificate key
// from the published Secret and trusts it only if it opens kubeadm-certs. It returns the plan's
// next decision time.
func (w *world) reconcile(t *testing.T, now time.Time, spec Spec, crashAfter int) (time.Time, bool) {
	if w.certsData != nil && !w.certsExp.After(now) {
		w.certsData = nil // the proxy token expired: the garbage collector removes kubeadm-certs
	}
	var st State
	for _, tok := range w.tokens {
		st.Tokens = append(st.Tokens, tok)
	}
	if w.pubKey != "" && Opens(w.pubKey, w.certsData) {
		st.Certs = &CertState{Key: w.pubKey, Expires: w.certsExp}
	}
	if w.published != nil {
		st.Published = w.published.ID
	}
	p := Decide(st, now, spec)
	writes := 0
	crash := func() bool {
		if writes > 0 {
			w.check(t, now, spec, fmt.Sprintf("after write %d", writes))
		}
		writes++
		return crashAfter >= 0 && writes > crashAfter
	}
	for _, id := range p.Retire {
		if crash() {
			return time.Time{}, true
		}
		delete(w.tokens, id)
	}
	pub := p.Publish
	if p.Mint {
		if crash() {
			return time.Time{}, true
		}
		tok, err := NewToken(p.MintExpires)
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[tok.ID] = tok
		pub = &tok
	}
	key := ""
	if st.Certs != nil {
		key = st.Certs.Key
	}
	uploaded := false
	if p.Upload {
		if crash() {
			return time.Time{}, true
		}
		uploaded = true
		key, _ = NewCertificateKey()
		enc, err := Encrypt(key, []byte("contents of ca.key"))
		if err != nil {
			t.Fatal(err)
		}
		w.certsData, w.certsExp = map[string][]byte{"ca.key": enc}, p.UploadExpires
	}
	if uploaded {
		// kubeadm-certs is re-encrypted under a key not published yet: the one moment the
		// published key does not open it (two objects, two writes). It is not checked.
		writes++
		if crashAfter >= 0 && writes > crashAfter {
			return time.Time{}, true
		}
	} else if crash() {
		return time.Time{}, true
	}
	w.published = pub
	if spec.UploadCerts {
		w.pubKey = key
	}
	for _, id := range p.Delete {
		if crash() {
			return time.Time{}, true
		}
		delete(w.tokens, id)
	}
	w.check(t, now, spec, "after the reconcile")
	return p.Next, false
}

// check fails when a reader would see more than two live hacp tokens, no valid published token,
// or a published certificate key that does not open a live kubeadm-certs.
func (w *world) check(t *testing.T, now time.Time, spec Spec, when string) {
	t.Helper()
	live := 0
	for _, tok := range w.tokens {
		if tok.Expires.After(now) {
			live++
		}
	}
	if live > 2 {
		t.Fatalf("%s %s: %d live hacp tokens", now.Format(time.RFC3339), when, live)
	}
	if w.published == nil {
		return // before the first publication
	}
	if tok, ok := w.tokens[w.published.ID]; !ok || !tok.Expires.After(now) {
		t.Fatalf("%s %s: the published token %s is gone or expired (%v)", now.Format(time.RFC3339), when, w.published.ID, tok.Expires)
	}
	if spec.UploadCerts && w.pubKey != "" && (w.certsData == nil || !w.certsExp.After(now) || !opensLikeKubeadm(w.pubKey, w.certsData["ca.key"])) {
		t.Fatalf("%s %s: the published certificate key does not open a live kubeadm-certs", now.Format(time.RFC3339), when)
	}
}

// opensLikeKubeadm decrypts blob as kubeadm join does (12-byte nonce || AES-256-GCM), without
// this package's code.
func opensLikeKubeadm(hexKey string, blob []byte) bool {
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(blob) < 12 {
		return false
	}
	c, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	g, err := cipher.NewGCM(c)
	if err != nil {
		return false
	}
	plain, err := g.Open(nil, blob[:12], blob[12:], nil)
	return err == nil && string(plain) == "contents of ca.key"
}

func TestRotationKeepsAValidCommandFor72Hours(t *testing.T) {
	for _, spec := range []Spec{
		{TokenTTL: 24 * time.Hour, RotateBefore: 2 * time.Hour, UploadCerts: true, CertKeyTTL: 2 * time.Hour},
		{TokenTTL: 30 * time.Minute, RotateBefore: 10 * time.Minute, UploadCerts: true, CertKeyTTL: 20 * time.Minute},
		{TokenTTL: 10 * time.Minute, RotateBefore: time.Minute, UploadCerts: false},
		// The soak's: a new token every minute while each lives ten, so two are always live
		// when the next is minted.
		{TokenTTL: 10 * time.Minute, RotateBefore: 9 * time.Minute, UploadCerts: true, CertKeyTTL: 10 * time.Minute},
	} {
		t.Run(fmt.Sprintf("ttl=%s,lead=%s,certs=%v", spec.TokenTTL, spec.RotateBefore, spec.UploadCerts), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(spec.TokenTTL)))
			start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
			w := &world{tokens: map[string]Token{}}
			var next time.Time // zero: the manager has just started and reconciles at once
			restarts, reconciles := 0, 0
			seen := map[string]bool{}
			for m := 0; m <= 72*60; m++ {
				now := start.Add(time.Duration(m) * time.Minute)
				// A manager restart at a random point: it reconciles at once when it comes back.
				if m > 0 && rng.IntN(90) == 0 {
					next, restarts = time.Time{}, restarts+1
				}
				if !now.Before(next) {
					crashAfter := -1
					if rng.IntN(10) == 0 {
						crashAfter = rng.IntN(4) // killed between two writes
					}
					n, crashed := w.reconcile(t, now, spec, crashAfter)
					reconciles++
					if crashed {
						next, restarts = time.Time{}, restarts+1
						// The restarted manager reconciles before the minute is over.
						n, _ = w.reconcile(t, now, spec, -1)
					}
					next = n
					for id := range w.tokens {
						seen[id] = true
					}
				}
				live := 0
				for _, tok := range w.tokens {
					if tok.Expires.After(now) {
						live++
					}
				}
				if live > 2 {
					t.Fatalf("minute %d: %d live hacp tokens", m, live)
				}
				if w.published == nil {
					t.Fatalf("minute %d: no published token", m)
				}
				tok, ok := w.tokens[w.published.ID]
				if !ok || !tok.Expires.After(now) {
					t.Fatalf("minute %d: the published token %s is gone or expired (%v)", m, w.published.ID, tok.Expires)
				}
				if spec.UploadCerts && (w.certsData == nil || !w.certsExp.After(now) || !opensLikeKubeadm(w.pubKey, w.certsData["ca.key"])) {
					t.Fatalf("minute %d: the published certificate key does not open a live kubeadm-certs", m)
				}
			}
			mints := len(seen)
			t.Logf("72h: %d reconciles, %d tokens minted, %d restarts", reconciles, mints, restarts)
			if maxMints := int(72*time.Hour/(spec.TokenTTL-spec.RotateBefore)) + restarts + 2; mints > maxMints {
				t.Errorf("%d tokens minted, more than %d: restarts must not mint duplicates", mints, maxMints)
			}
		})
	}
}

func TestDecideSchedulesTheNextRotation(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	spec := Spec{TokenTTL: 24 * time.Hour, RotateBefore: 2 * time.Hour, UploadCerts: true, CertKeyTTL: 2 * time.Hour}
	p := Decide(State{}, now, spec)
	if !p.Mint || !p.Upload || !p.MintExpires.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("%+v", p)
	}
	// Certificates (2h, lead 1h) need attention before the token (24h, lead 2h).
	if want := now.Add(time.Hour); !p.Next.Equal(want) {
		t.Fatalf("next %v, want %v", p.Next, want)
	}
	st := State{Tokens: []Token{{ID: "aaaaaa", Expires: now.Add(10 * time.Hour)}, {ID: "bbbbbb", Expires: now.Add(-time.Minute)}}, Certs: &CertState{Key: "k", Expires: now.Add(90 * time.Minute)}}
	p = Decide(st, now, spec)
	if p.Mint || p.Upload || p.Publish == nil || p.Publish.ID != "aaaaaa" || len(p.Delete) != 1 || p.Delete[0] != "bbbbbb" {
		t.Fatalf("%+v", p)
	}
	if want := now.Add(30 * time.Minute); !p.Next.Equal(want) {
		t.Fatalf("next %v, want %v (certificate re-upload)", p.Next, want)
	}
}

func TestOpens(t *testing.T) {
	key, _ := NewCertificateKey()
	other, _ := NewCertificateKey()
	enc, err := Encrypt(key, []byte("ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := Encrypt(key, []byte("sa.key"))
	for name, tc := range map[string]struct {
		key  string
		data map[string][]byte
		want bool
	}{
		"its key":                 {key, map[string][]byte{"ca.key": enc, "sa.key": enc2}, true},
		"another key":             {other, map[string][]byte{"ca.key": enc}, false},
		"one entry under another": {key, map[string][]byte{"ca.key": enc, "sa.key": mustEncrypt(t, other, "sa.key")}, false},
		"nothing uploaded":        {key, nil, false},
		"no key":                  {"", map[string][]byte{"ca.key": enc}, false},
		"a short blob":            {key, map[string][]byte{"ca.key": enc[:5]}, false},
	} {
		if got := Opens(tc.key, tc.data); got != tc.want {
			t.Errorf("%s: Opens = %v, want %v", name, got, tc.want)
		}
	}
}

func mustEncrypt(t *testing.T, key, s string) []byte {
	b, err := Encrypt(key, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
