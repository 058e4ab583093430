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
	now := r.Clock.Now()
	gen := hcp.Generation
	cond := func(status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: hacpv1.ConditionJoinMaterialReady, Status: status, Reason: reason, Message: truncate(msg, 2048), ObservedGeneration: gen})
	}
	spec := joinSpec(hcp)

	caHash, err := r.caCertHash(ctx)
	if err != nil {
		cond(metav1.ConditionFalse, hacpv1.ReasonClusterInfoUnavailable, err.Error()+"; the last join Secret, if any, is unchanged")
		return time.Minute, nil
	}
	if err := r.checkEndpoint(ctx, hcp); err != nil {
		cond(metav1.ConditionFalse, hacpv1.ReasonEndpointMismatch, err.Error())
		return time.Minute, nil
	}

	// Current material: hacp's tokens for this HAControlPlane, and its certificate upload. Read
	// uncached: a cache that has not yet seen a token minted a moment ago would mint another.
	var secrets corev1.SecretList
	if err := r.APIReader.List(ctx, &secrets, client.InNamespace(metav1.NamespaceSystem), client.MatchingLabels{LabelHAControlPlane: haControlPlaneLabel(hcp)}); err != nil {
		return 0, fmt.Errorf("listing hacp's bootstrap tokens in kube-system: %w", err)
	}
	var state joinmaterial.State
	tokens := map[string]joinmaterial.Token{}
	for i := range secrets.Items {
		s := &secrets.Items[i]
		if s.Labels[labelTokenRole] != "join" {
			continue
		}
		if t, err := joinmaterial.TokenFromSecret(s); err == nil {
			state.Tokens = append(state.Tokens, t)
			tokens[t.ID] = t
		}
	}
	var cpJoin corev1.Secret
	cpJoinErr := r.APIReader.Get(ctx, types.NamespacedName{Namespace: hcp.Namespace, Name: controlPlaneJoinSecretName(hcp)}, &cpJoin)
	if cpJoinErr != nil && !apierrors.IsNotFound(cpJoinErr) {
		return 0, fmt.Errorf("reading the join Secret %s: %w", controlPlaneJoinSecretName(hcp), cpJoinErr)
	}
	certsReason, certsProblem := hacpv1.ReasonTokensOnly, ""
	var files map[string][]byte
	if spec.UploadCerts {
		var kc corev1.Secret
		kcErr := r.APIReader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: joinmaterial.KubeadmCertsSecret}, &kc)
		if kcErr != nil && !apierrors.IsNotFound(kcErr) {
			return 0, fmt.Errorf("reading kube-system/kubeadm-certs: %w", kcErr)
		}
		files, err = joinmaterial.ReadPKI(pkiDir(hcp), false)
		switch {
		case err != nil:
			certsProblem = fmt.Sprintf("certificate key unavailable: %v (run the manager on a control-plane node with the pki directory mounted read-only, or set certificateUpload: Disabled)", err)
			spec.UploadCerts = false
		case kcErr == nil && adoptableUpload(&kc, hcp.CreationTimestamp.Time):
			// kubeadm init --upload-certs's own upload, written before this HAControlPlane existed:
			// the quick start joins with hacp's command, so hacp uploads anew under its own key
			// (state.Certs stays empty). Found by the kubeadm lab: without this, no control-plane
			// join command existed for the two hours after kubeadm init.
		case kcErr == nil && kc.Labels[LabelHAControlPlane] != haControlPlaneLabel(hcp):
			// Someone else's upload: overwriting it would break the joins its key was given for,
			// and two writers would take turns forever. It expires with its proxy token.
			certsReason, certsProblem = hacpv1.ReasonCertificatesForeign, foreignCertsProblem(&kc)
			spec.UploadCerts = false
		case kcErr == nil:
			key := string(cpJoin.Data["certificateKey"])
			// The published key counts only if it opens what kubeadm-certs holds now: an upload
			// interrupted before its key was published leaves them apart, and then only a new
			// upload under a new, published key mends it.
			if exp, err := time.Parse(time.RFC3339, kc.Annotations[annotationCertsExpire]); err == nil && key != "" && joinmaterial.Opens(key, kc.Data) {
				state.Certs = &joinmaterial.CertState{Key: key, Expires: exp}
			}
		}
	}

	plan := joinmaterial.Decide(state, now, spec)
	desc := fmt.Sprintf("Created by hacp for HAControlPlane %s/%s; rotated automatically", hcp.Namespace, hcp.Name)
	pub := plan.Publish
	if plan.Mint {
		t, err := joinmaterial.NewToken(plan.MintExpires)
		if err != nil {
			return 0, fmt.Errorf("minting a bootstrap token: %w", err)
		}
		if err := r.Create(ctx, joinmaterial.TokenSecret(t, desc, tokenLabels(hcp, "join"))); err != nil {
			return 0, fmt.Errorf("creating bootstrap token: %w", err)
		}
		pub = &t
		r.Recorder.Eventf(hcp, nil, corev1.EventTypeNormal, "TokenRotated", "Rotate", "new bootstrap token %s, valid until %s", t.ID, t.Expires.Format(time.RFC3339))
	}
	certKey, certsExpire := "", time.Time{}
	if state.Certs != nil {
		certKey, certsExpire = state.Certs.Key, state.Certs.Expires
	}
	if plan.Upload {
		certKey, err = r.uploadCerts(ctx, hcp, files, plan.UploadExpires)
		if err != nil {
			cond(metav1.ConditionFalse, hacpv1.ReasonUploadFailed, fmt.Sprintf("uploading control-plane certificates: %v", err))
			return time.Minute, nil
		}
		certsExpire = plan.UploadExpires
		r.Recorder.Eventf(hcp, nil, corev1.EventTypeNormal, "CertificatesUploaded", "Rotate", "control-plane certificates re-uploaded under a new key, valid until %s", certsExpire.Format(time.RFC3339))
	}
	if !spec.UploadCerts {
		certKey = ""
	}

	// Publish: workers' material, then the control-plane material in its own Secret (or none).
	labels := map[string]string{LabelManagedBy: LabelManagedByValue, LabelHAControlPlane: haControlPlaneLabel(hcp)}
	js := joinSecret(hcp, joinSecretName(hcp), labels, map[string][]byte{
		"token":             []byte(pub.String()),
		"caCertHash":        []byte(caHash),
		"workerJoinCommand": []byte(joinmaterial.WorkerCommand(hcp.Spec.ControlPlaneEndpoint, *pub, caHash)),
		"expiresAt":         []byte(pub.Expires.UTC().Format(time.RFC3339)),
	})
	if err := applyOwned(ctx, r.Client, hcp, js); err != nil {
		return 0, fmt.Errorf("publishing the join Secret: %w", err)
	}
	expires := pub.Expires
	if certKey != "" {
		expires = minTime(expires, certsExpire)
		cps := joinSecret(hcp, controlPlaneJoinSecretName(hcp), labels, map[string][]byte{
			"certificateKey":          []byte(certKey),
			"controlPlaneJoinCommand": []byte(joinmaterial.ControlPlaneCommand(hcp.Spec.ControlPlaneEndpoint, *pub, caHash, certKey)),
			"expiresAt":               []byte(expires.UTC().Format(time.RFC3339)),
		})
		if err := applyOwned(ctx, r.Client, hcp, cps); err != nil {
			return 0, fmt.Errorf("publishing the control-plane join Secret: %w", err)
		}
	} else if cpJoinErr == nil && metav1.IsControlledBy(&cpJoin, hcp) {
		// No certificate key is kept valid any more: a stale one must not stay published.
		if err := r.Delete(ctx, &cpJoin); client.IgnoreNotFound(err) != nil {
			return 0, fmt.Errorf("deleting the control-plane join Secret %s: %w", cpJoin.Name, err)
		}
	}
	for _, id := range plan.Delete {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: bootstraputil.BootstrapTokenSecretName(id)}}
		if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			return 0, fmt.Errorf("deleting old token %s: %w", id, err)
		}
	}

	st.JoinMaterial = &hacpv1.JoinMaterialStatus{
		SecretName:     js.Name,
		TokenID:        pub.ID,
		TokenExpiresAt: &metav1.Time{Time: pub.Expires},
		NextRotationAt: &metav1.Time{Time: plan.Next},
	}
	msg := fmt.Sprintf("worker join command in Secret %s/%s, valid until %s", hcp.Namespace, js.Name, pub.Expires.UTC().Format(time.RFC3339))
	if certKey != "" {
		st.JoinMaterial.ControlPlaneSecretName = controlPlaneJoinSecretName(hcp)
		st.JoinMaterial.CertificateKeyExpiresAt = &metav1.Time{Time: certsExpire}
		msg += fmt.Sprintf("; control-plane join command in Secret %s/%s, valid until %s", hcp.Namespace, controlPlaneJoinSecretName(hcp), expires.UTC().Format(time.RFC3339))
	}
	wait := max(plan.Next.Sub(now), time.Second)
	if certsProblem != "" {
		if prev := meta.FindStatusCondition(hcp.Status.Conditions, hacpv1.ConditionJoinMaterialReady); certsReason == hacpv1.ReasonCertificatesForeign && (prev == nil || prev.Reason != certsReason) {
			r.Recorder.Eventf(hcp, nil, corev1.EventTypeWarning, certsReason, "Upload", "%s", certsProblem)
		}
		cond(metav1.ConditionTrue, certsReason, msg+"; "+certsProblem)
		// Look again soon: the other upload expires, or the pki directory appears, without an event.
		wait = min(wait, 5*time.Minute)
	} else {
		cond(metav1.ConditionTrue, hacpv1.ReasonValid, msg)
	}
	return wait, nil
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
