package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/joinmaterial"
)

const (
	// annotationCertsExpire records, on kubeadm-certs, when hacp's upload expires.
	annotationCertsExpire = "hacp.dev/certificate-key-expires"
	// labelTokenRole tells hacp's join tokens from its kubeadm-certs proxy tokens.
	labelTokenRole = "hacp.dev/token-role"
)

// The join Secrets: workers' material, and apart from it the certificate key, which decrypts the
// cluster's CA keys (with any bootstrap token, cluster-admin): whoever may read the worker command
// need not be able to read the key.
func joinSecretName(hcp *hacpv1.HAControlPlane) string { return hcp.Name + "-join" }
func controlPlaneJoinSecretName(hcp *hacpv1.HAControlPlane) string {
	return hcp.Name + "-join-control-plane"
}

func joinSpec(hcp *hacpv1.HAControlPlane) joinmaterial.Spec {
	jm := hcp.Spec.JoinMaterial
	d := func(p *metav1.Duration, def time.Duration) time.Duration {
		if p == nil || p.Duration == 0 {
			return def
		}
		return p.Duration
	}
	return joinmaterial.Spec{
		TokenTTL:     d(jm.TokenTTL, 24*time.Hour),
		RotateBefore: d(jm.RotateBefore, 2*time.Hour),
		UploadCerts:  jm.CertificateUpload == hacpv1.CertificateUploadEnabled,
		CertKeyTTL:   d(jm.CertificateKeyTTL, 2*time.Hour),
	}
}

// tokenLabels mark hacp's tokens for one HAControlPlane: hacp never touches tokens without them.
func tokenLabels(hcp *hacpv1.HAControlPlane, role string) map[string]string {
	return map[string]string{LabelManagedBy: LabelManagedByValue, LabelHAControlPlane: haControlPlaneLabel(hcp), labelTokenRole: role}
}

// reconcileJoinMaterial keeps bootstrap tokens and the certificate key valid and publishes ready
// join commands in <name>-join. It returns how long until it next needs to act. A problem sets
// JoinMaterialReady=False and leaves the last good join Secret in place.
func (r *HAControlPlaneReconciler) reconcileJoinMaterial(ctx context.Context, hcp *hacpv1.HAControlPlane, st *hacpv1.HAControlPlaneStatus) (time.Duration, error) {
	o, problem, err := r.observeJoinMaterial(ctx, hcp)
	if err != nil {
		return 0, err
	}
	if problem == nil {
		plan := joinmaterial.Decide(o.state, o.now, o.spec)
		var m joinPublished
		if m, problem, err = r.renewJoinMaterial(ctx, hcp, o, plan); err != nil {
			return 0, err
		}
		if problem == nil {
			if err := r.publishJoinMaterial(ctx, hcp, o, plan, &m); err != nil {
				return 0, err
			}
			wait, event := joinMaterialReady(hcp, st, o, plan, m)
			if event != nil {
				recordEvents(r.Recorder, hcp, []objectEvent{*event})
			}
			return wait, nil
		}
	}
	setJoinCondition(st, hcp, metav1.ConditionFalse, problem.reason, problem.message)
	return time.Minute, nil
}

// joinObserved is what the join material is decided from.
type joinObserved struct {
	now    time.Time
	spec   joinmaterial.Spec
	caHash string
	// state is hacp's current tokens and, when its key opens kubeadm-certs, its certificate upload.
	state joinmaterial.State
	// cpJoin is the control-plane join Secret, when cpJoinFound.
	cpJoin      corev1.Secret
	cpJoinFound bool
	// files are the control-plane certificates to upload (spec.UploadCerts).
	files map[string][]byte
	// certsReason and certsProblem say why no certificate key is kept (certsProblem empty: none).
	certsReason, certsProblem string
}

// joinProblem stops the join material's reconcile for a minute: JoinMaterialReady says why.
type joinProblem struct{ reason, message string }

// joinPublished is the material the join Secrets publish.
type joinPublished struct {
	token       *joinmaterial.Token
	certKey     string
	certsExpire time.Time
	// secretName and expires are the worker join Secret's name and when the published commands
	// expire, set by publishJoinMaterial.
	secretName string
	expires    time.Time
}

func setJoinCondition(st *hacpv1.HAControlPlaneStatus, hcp *hacpv1.HAControlPlane, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: hacpv1.ConditionJoinMaterialReady, Status: status, Reason: reason, Message: truncate(msg, 2048), ObservedGeneration: hcp.Generation})
}

// observeJoinMaterial reads the cluster's CA hash, hacp's tokens, the control-plane join Secret
// and the certificate upload. Reads are uncached: a cache that has not yet seen a token minted a
// moment ago would mint another.
func (r *HAControlPlaneReconciler) observeJoinMaterial(ctx context.Context, hcp *hacpv1.HAControlPlane) (joinObserved, *joinProblem, error) {
	o := joinObserved{now: r.Clock.Now(), spec: joinSpec(hcp)}
	var err error
	if o.caHash, err = r.caCertHash(ctx); err != nil {
		return o, &joinProblem{hacpv1.ReasonClusterInfoUnavailable, err.Error() + "; the last join Secret, if any, is unchanged"}, nil
	}
	if err := r.checkEndpoint(ctx, hcp); err != nil {
		return o, &joinProblem{hacpv1.ReasonEndpointMismatch, err.Error()}, nil
	}
	var secrets corev1.SecretList
	if err := r.APIReader.List(ctx, &secrets, client.InNamespace(metav1.NamespaceSystem), client.MatchingLabels{LabelHAControlPlane: haControlPlaneLabel(hcp)}); err != nil {
		return o, nil, fmt.Errorf("listing hacp's bootstrap tokens in kube-system: %w", err)
	}
	for i := range secrets.Items {
		if s := &secrets.Items[i]; s.Labels[labelTokenRole] == "join" {
			if t, err := joinmaterial.TokenFromSecret(s); err == nil {
				o.state.Tokens = append(o.state.Tokens, t)
			}
		}
	}
	// The token the join Secret names now: superseded tokens it no longer names are retired
	// before a new one is minted.
	var join corev1.Secret
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: hcp.Namespace, Name: joinSecretName(hcp)}, &join); err == nil {
		if id, _, ok := strings.Cut(string(join.Data["token"]), "."); ok {
			o.state.Published = id
		}
	} else if !apierrors.IsNotFound(err) {
		return o, nil, fmt.Errorf("reading the join Secret %s: %w", joinSecretName(hcp), err)
	}
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: hcp.Namespace, Name: controlPlaneJoinSecretName(hcp)}, &o.cpJoin)
	if err != nil && !apierrors.IsNotFound(err) {
		return o, nil, fmt.Errorf("reading the join Secret %s: %w", controlPlaneJoinSecretName(hcp), err)
	}
	o.cpJoinFound = err == nil
	o.certsReason = hacpv1.ReasonTokensOnly
	if o.spec.UploadCerts {
		return o, nil, r.observeCertUpload(ctx, hcp, &o)
	}
	return o, nil, nil
}

// observeCertUpload reads kubeadm-certs and the pki directory: whether hacp may upload, and the
// upload its published key opens, if any. A reason not to upload turns spec.UploadCerts off.
func (r *HAControlPlaneReconciler) observeCertUpload(ctx context.Context, hcp *hacpv1.HAControlPlane, o *joinObserved) error {
	var kc corev1.Secret
	kcErr := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: joinmaterial.KubeadmCertsSecret}, &kc)
	if kcErr != nil && !apierrors.IsNotFound(kcErr) {
		return fmt.Errorf("reading kube-system/kubeadm-certs: %w", kcErr)
	}
	var err error
	o.files, err = joinmaterial.ReadPKI(pkiDir(hcp), false)
	switch {
	case err != nil:
		o.certsProblem = fmt.Sprintf("certificate key unavailable: %v (run the manager on a control-plane node with the pki directory mounted read-only, or set certificateUpload: Disabled)", err)
		o.spec.UploadCerts = false
	case kcErr == nil && adoptableUpload(&kc, hcp.CreationTimestamp.Time):
		// kubeadm init --upload-certs's own upload, written before this HAControlPlane existed:
		// the quick start joins with hacp's command, so hacp uploads anew under its own key
		// (state.Certs stays empty). Found by the kubeadm lab: without this, no control-plane
		// join command existed for the two hours after kubeadm init.
	case kcErr == nil && kc.Labels[LabelHAControlPlane] != haControlPlaneLabel(hcp):
		// Someone else's upload: overwriting it would break the joins its key was given for,
		// and two writers would take turns forever. It expires with its proxy token.
		o.certsReason, o.certsProblem = hacpv1.ReasonCertificatesForeign, foreignCertsProblem(&kc)
		o.spec.UploadCerts = false
	case kcErr == nil:
		key := string(o.cpJoin.Data["certificateKey"])
		// The published key counts only if it opens what kubeadm-certs holds now: an upload
		// interrupted before its key was published leaves them apart, and then only a new
		// upload under a new, published key mends it.
		if exp, err := time.Parse(time.RFC3339, kc.Annotations[annotationCertsExpire]); err == nil && key != "" && joinmaterial.Opens(key, kc.Data) {
			o.state.Certs = &joinmaterial.CertState{Key: key, Expires: exp}
		}
	}
	return nil
}

// renewJoinMaterial mints a token and uploads the certificates as plan says, and returns what to
// publish.
func (r *HAControlPlaneReconciler) renewJoinMaterial(ctx context.Context, hcp *hacpv1.HAControlPlane, o joinObserved, plan joinmaterial.Plan) (joinPublished, *joinProblem, error) {
	m := joinPublished{token: plan.Publish}
	if err := r.deleteTokens(ctx, plan.Retire); err != nil {
		return m, nil, err
	}
	if plan.Mint {
		t, err := joinmaterial.NewToken(plan.MintExpires)
		if err != nil {
			return m, nil, fmt.Errorf("minting a bootstrap token: %w", err)
		}
		desc := fmt.Sprintf("Created by hacp for HAControlPlane %s/%s; rotated automatically", hcp.Namespace, hcp.Name)
		if err := r.Create(ctx, joinmaterial.TokenSecret(t, desc, tokenLabels(hcp, "join"))); err != nil {
			return m, nil, fmt.Errorf("creating bootstrap token: %w", err)
		}
		m.token = &t
		r.Recorder.Eventf(hcp, nil, corev1.EventTypeNormal, "TokenRotated", "Rotate", "new bootstrap token %s, valid until %s", t.ID, t.Expires.Format(time.RFC3339))
	}
	if o.state.Certs != nil {
		m.certKey, m.certsExpire = o.state.Certs.Key, o.state.Certs.Expires
	}
	if plan.Upload {
		var err error
		if m.certKey, err = r.uploadCerts(ctx, hcp, o.files, plan.UploadExpires); err != nil {
			return m, &joinProblem{hacpv1.ReasonUploadFailed, fmt.Sprintf("uploading control-plane certificates: %v", err)}, nil
		}
		m.certsExpire = plan.UploadExpires
		r.Recorder.Eventf(hcp, nil, corev1.EventTypeNormal, "CertificatesUploaded", "Rotate", "control-plane certificates re-uploaded under a new key, valid until %s", m.certsExpire.Format(time.RFC3339))
	}
	if !o.spec.UploadCerts {
		m.certKey = ""
	}
	return m, nil, nil
}

// publishJoinMaterial writes the workers' material, then the control-plane material in its own
// Secret (or removes a stale one), and deletes the tokens plan retires.
func (r *HAControlPlaneReconciler) publishJoinMaterial(ctx context.Context, hcp *hacpv1.HAControlPlane, o joinObserved, plan joinmaterial.Plan, m *joinPublished) error {
	labels := map[string]string{LabelManagedBy: LabelManagedByValue, LabelHAControlPlane: haControlPlaneLabel(hcp)}
	pub, endpoint := *m.token, hcp.Spec.ControlPlaneEndpoint
	js := joinSecret(hcp, joinSecretName(hcp), labels, map[string][]byte{
		"token":             []byte(pub.String()),
		"caCertHash":        []byte(o.caHash),
		"workerJoinCommand": []byte(joinmaterial.WorkerCommand(endpoint, pub, o.caHash)),
		"expiresAt":         []byte(pub.Expires.UTC().Format(time.RFC3339)),
	})
	if err := applyOwned(ctx, r.Client, hcp, js); err != nil {
		return fmt.Errorf("publishing the join Secret: %w", err)
	}
	m.secretName, m.expires = js.Name, pub.Expires
	if m.certKey != "" {
		m.expires = minTime(m.expires, m.certsExpire)
		cps := joinSecret(hcp, controlPlaneJoinSecretName(hcp), labels, map[string][]byte{
			"certificateKey":          []byte(m.certKey),
			"controlPlaneJoinCommand": []byte(joinmaterial.ControlPlaneCommand(endpoint, pub, o.caHash, m.certKey)),
			"expiresAt":               []byte(m.expires.UTC().Format(time.RFC3339)),
		})
		if err := applyOwned(ctx, r.Client, hcp, cps); err != nil {
			return fmt.Errorf("publishing the control-plane join Secret: %w", err)
		}
	} else if o.cpJoinFound && metav1.IsControlledBy(&o.cpJoin, hcp) {
		// No certificate key is kept valid any more: a stale one must not stay published.
		cpJoin := o.cpJoin
		if err := r.Delete(ctx, &cpJoin); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the control-plane join Secret %s: %w", cpJoin.Name, err)
		}
	}
	return r.deleteTokens(ctx, plan.Delete)
}

func (r *HAControlPlaneReconciler) deleteTokens(ctx context.Context, ids []string) error {
	for _, id := range ids {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: bootstraputil.BootstrapTokenSecretName(id)}}
		if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting old token %s: %w", id, err)
		}
	}
	return nil
}

// joinMaterialReady fills status.joinMaterial and JoinMaterialReady from what was published, and
// returns how long until the material next needs attention, and an event when another's
// certificate upload newly keeps hacp from publishing a certificate key.
func joinMaterialReady(hcp *hacpv1.HAControlPlane, st *hacpv1.HAControlPlaneStatus, o joinObserved, plan joinmaterial.Plan, m joinPublished) (time.Duration, *objectEvent) {
	st.JoinMaterial = &hacpv1.JoinMaterialStatus{
		SecretName:     m.secretName,
		TokenID:        m.token.ID,
		TokenExpiresAt: &metav1.Time{Time: m.token.Expires},
		NextRotationAt: &metav1.Time{Time: plan.Next},
	}
	msg := fmt.Sprintf("worker join command in Secret %s/%s, valid until %s", hcp.Namespace, m.secretName, m.token.Expires.UTC().Format(time.RFC3339))
	if m.certKey != "" {
		st.JoinMaterial.ControlPlaneSecretName = controlPlaneJoinSecretName(hcp)
		st.JoinMaterial.CertificateKeyExpiresAt = &metav1.Time{Time: m.certsExpire}
		msg += fmt.Sprintf("; control-plane join command in Secret %s/%s, valid until %s", hcp.Namespace, controlPlaneJoinSecretName(hcp), m.expires.UTC().Format(time.RFC3339))
	}
	wait := max(plan.Next.Sub(o.now), time.Second)
	if o.certsProblem == "" {
		setJoinCondition(st, hcp, metav1.ConditionTrue, hacpv1.ReasonValid, msg)
		return wait, nil
	}
	var event *objectEvent
	if prev := meta.FindStatusCondition(hcp.Status.Conditions, hacpv1.ConditionJoinMaterialReady); o.certsReason == hacpv1.ReasonCertificatesForeign && (prev == nil || prev.Reason != o.certsReason) {
		event = &objectEvent{typ: corev1.EventTypeWarning, reason: o.certsReason, action: "Upload", message: o.certsProblem}
	}
	setJoinCondition(st, hcp, metav1.ConditionTrue, o.certsReason, msg+"; "+o.certsProblem)
	// Look again soon: the other upload expires, or the pki directory appears, without an event.
	return min(wait, 5*time.Minute), event
}

// adoptableUpload says whether kubeadm-certs is an upload hacp takes over: written by no
// HAControlPlane, and last written before created (the HAControlPlane's creation), as kubeadm
// init's own upload is. An upload made by hand later, or by another HAControlPlane, is kept.
func adoptableUpload(kc *corev1.Secret, created time.Time) bool {
	if kc.Labels[LabelHAControlPlane] != "" {
		return false
	}
	last := kc.CreationTimestamp.Time
	for _, mf := range kc.ManagedFields {
		if mf.Time != nil && mf.Time.After(last) {
			last = mf.Time.Time
		}
	}
	return last.Before(created)
}

// foreignCertsProblem says who else wrote kubeadm-certs and what to do.
func foreignCertsProblem(kc *corev1.Secret) string {
	writer := "someone outside hacp (kubeadm init phase upload-certs --upload-certs)"
	if other := kc.Labels[LabelHAControlPlane]; other != "" {
		writer = "HAControlPlane " + other + " (namespace.name)"
	}
	return fmt.Sprintf("no control-plane join command: kube-system/kubeadm-certs was uploaded by %s, and hacp does not overwrite it; "+
		"it uploads again once that upload expires (set certificateUpload: Disabled on all but one HAControlPlane)", writer)
}

// joinSecret is one of the Secrets join commands are published in.
func joinSecret(hcp *hacpv1.HAControlPlane, name string, labels map[string]string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: hcp.Namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func pkiDir(hcp *hacpv1.HAControlPlane) string {
	if d := hcp.Spec.JoinMaterial.PKIDirectory; d != "" {
		return d
	}
	return "/etc/kubernetes/pki"
}

// caCertHash reads the cluster CA from kube-public/cluster-info, as kubeadm join's discovery does.
func (r *HAControlPlaneReconciler) caCertHash(ctx context.Context) (string, error) {
	var cm corev1.ConfigMap
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespacePublic, Name: bootstrapapi.ConfigMapClusterInfo}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return "", errors.New("ConfigMap kube-public/cluster-info not found: the cluster was not set up by kubeadm init, or its bootstrap-token phase was skipped")
		}
		return "", fmt.Errorf("reading kube-public/cluster-info: %w", err)
	}
	ca, err := joinmaterial.CAFromClusterInfo(&cm)
	if err != nil {
		return "", err
	}
	hashes, err := joinmaterial.CACertHashes(ca)
	if err != nil {
		return "", fmt.Errorf("kube-public/cluster-info: %w", err)
	}
	return hashes[0], nil
}

// checkEndpoint compares spec.controlPlaneEndpoint with what kubeadm was told.
func (r *HAControlPlaneReconciler) checkEndpoint(ctx context.Context, hcp *hacpv1.HAControlPlane) error {
	var cm corev1.ConfigMap
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: "kubeadm-config"}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // not kubeadm-managed config: nothing to compare with
		}
		return fmt.Errorf("reading kube-system/kubeadm-config: %w", err)
	}
	var cc struct {
		ControlPlaneEndpoint string `json:"controlPlaneEndpoint"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["ClusterConfiguration"]), &cc); err != nil {
		return fmt.Errorf("kube-system/kubeadm-config: ClusterConfiguration: %w", err)
	}
	if cc.ControlPlaneEndpoint != "" && !strings.EqualFold(cc.ControlPlaneEndpoint, hcp.Spec.ControlPlaneEndpoint) {
		return fmt.Errorf("spec.controlPlaneEndpoint %q differs from kubeadm's controlPlaneEndpoint %q (kube-system/kubeadm-config): nodes would join an address their certificates do not name; fix one of them", hcp.Spec.ControlPlaneEndpoint, cc.ControlPlaneEndpoint)
	}
	return nil
}

// uploadCerts does what `kubeadm init phase upload-certs --upload-certs` does: a usage-less proxy
// token that expires with the upload, kubeadm-certs owned by it, and the Role/RoleBinding that let
// joining nodes read it. It returns the new certificate key.
func (r *HAControlPlaneReconciler) uploadCerts(ctx context.Context, hcp *hacpv1.HAControlPlane, files map[string][]byte, expires time.Time) (string, error) {
	key, err := joinmaterial.NewCertificateKey()
	if err != nil {
		return "", err
	}
	proxy, err := joinmaterial.NewToken(expires)
	if err != nil {
		return "", err
	}
	// What does not depend on the key first: the Role and RoleBinding that let joining nodes read
	// kubeadm-certs. Then the proxy token and kubeadm-certs; the caller publishes the key next.
	labels := map[string]string{LabelManagedBy: LabelManagedByValue, LabelHAControlPlane: haControlPlaneLabel(hcp)}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:kubeadm-certs", Namespace: metav1.NamespaceSystem, Labels: labels},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{joinmaterial.KubeadmCertsSecret}, Verbs: []string{"get"}}},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:kubeadm-certs", Namespace: metav1.NamespaceSystem, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "kubeadm:kubeadm-certs"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: joinmaterial.DefaultNodeTokenGroup}},
	}
	for _, o := range []client.Object{role, rb} {
		if err := applyOwned(ctx, r.Client, nil, o); err != nil {
			return "", fmt.Errorf("writing %T kubeadm:kubeadm-certs: %w", o, err)
		}
	}
	ps := joinmaterial.ProxyTokenSecret(proxy, fmt.Sprintf("Proxy for managing TTL for the kubeadm-certs secret (hacp, %s/%s)", hcp.Namespace, hcp.Name), tokenLabels(hcp, "certs-proxy"))
	if err := r.Create(ctx, ps); err != nil {
		return "", fmt.Errorf("creating the proxy token: %w", err)
	}
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Secret", Name: ps.Name, UID: ps.UID}
	cs, err := joinmaterial.CertsSecret(key, files, false, owner, labels)
	if err != nil {
		return "", err
	}
	cs.Annotations = map[string]string{annotationCertsExpire: expires.UTC().Format(time.RFC3339)}
	if err := applyOwned(ctx, r.Client, nil, cs); err != nil {
		return "", fmt.Errorf("writing kube-system/kubeadm-certs: %w", err)
	}
	return key, nil
}
