package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func runJoin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	namespace := fs.String("n", "kube-system", "namespace of the HAControlPlane")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	controlPlane := fs.Bool("control-plane", false, "print the control-plane join command (with --certificate-key)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hacpctl join [NAME] [--control-plane] [-n NAMESPACE]")
		fs.PrintDefaults()
	}
	name, done, code := parseNamed(fs, args)
	if done {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "hacpctl join: "+format+"\n", a...)
		return code
	}
	c, err := newClient(*kubeconfig)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return printJoin(ctx, c, *namespace, name, *controlPlane, time.Now(), stdout, fail)
}

// printJoin prints the join command the HAControlPlane's status names, unless it has expired at
// now: kubeadm would fail with it after its preflight, on a node half set up.
func printJoin(ctx context.Context, c client.Client, namespace, name string, controlPlane bool, now time.Time, stdout io.Writer, fail func(int, string, ...any) int) int {
	var hcp hacpv1.HAControlPlane
	if name == "" {
		var list hacpv1.HAControlPlaneList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return fail(1, "%v", err)
		}
		if len(list.Items) != 1 {
			return fail(exitUsage, "%d HAControlPlanes in %s: name one", len(list.Items), namespace)
		}
		hcp = list.Items[0]
	} else if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &hcp); err != nil {
		return fail(1, "%v", err)
	}
	why := "no join material yet"
	for _, cond := range hcp.Status.Conditions {
		if cond.Type == hacpv1.ConditionJoinMaterialReady {
			why = cond.Reason + ": " + cond.Message
		}
	}
	jm := hcp.Status.JoinMaterial
	if jm == nil || jm.SecretName == "" {
		return fail(1, "%s/%s: %s", namespace, hcp.Name, why)
	}
	secret, key := jm.SecretName, "workerJoinCommand"
	if controlPlane {
		secret, key = jm.ControlPlaneSecretName, "controlPlaneJoinCommand"
		if secret == "" {
			return fail(1, "%s/%s: no control-plane join command: certificate upload is disabled or unavailable (JoinMaterialReady %s)", namespace, hcp.Name, why)
		}
	}
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secret}, &s); err != nil {
		return fail(1, "%v", err)
	}
	cmd, ok := s.Data[key]
	if !ok {
		return fail(1, "Secret %s/%s has no %s (JoinMaterialReady %s)", namespace, s.Name, key, why)
	}
	if expires := commandExpiry(jm, controlPlane, s.Data["expiresAt"]); !expires.IsZero() && !now.Before(expires) {
		return fail(1, "%s/%s: the join command in Secret %s expired at %s and has not been renewed (JoinMaterialReady %s); not printing it",
			namespace, hcp.Name, s.Name, expires.UTC().Format(time.RFC3339), why)
	}
	fmt.Fprintf(stdout, "%s\n", cmd)
	return 0
}

// commandExpiry is when a join command stops working: its token's expiry, and for a control-plane
// command also the certificate key's. The Secret's expiresAt stands in when status has neither.
func commandExpiry(jm *hacpv1.JoinMaterialStatus, controlPlane bool, secretExpiresAt []byte) time.Time {
	var out time.Time
	earliest := func(t *metav1.Time) {
		if t != nil && (out.IsZero() || t.Time.Before(out)) {
			out = t.Time
		}
	}
	earliest(jm.TokenExpiresAt)
	if controlPlane {
		earliest(jm.CertificateKeyExpiresAt)
	}
	if out.IsZero() {
		if t, err := time.Parse(time.RFC3339, string(secretExpiresAt)); err == nil {
			out = t
		}
	}
	return out
}
