package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
)

// FieldOwner is the one server-side apply field manager for everything hacp writes.
const FieldOwner = "hacp"

// Labels hacp puts on what it creates; the manager's cache only holds objects carrying them.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	LabelManagedByValue = "hacp"
	LabelVIPGroup       = contract.LabelVIPGroup
	LabelHAControlPlane = "hacp.dev/hacontrolplane"
)

// haControlPlaneLabel is the LabelHAControlPlane value for hcp: namespace.name, made to fit.
func haControlPlaneLabel(hcp *hacpv1.HAControlPlane) string {
	return fitLabelValue(hcp.Namespace + "." + hcp.Name)
}

// fitLabelValue returns s when it is short enough for a label value, else a prefix of it and a
// hash of all of it: two long values stay apart, and the result is a valid label value whenever
// s is made of a label value's characters and starts with a letter or digit (as names do).
func fitLabelValue(s string) string {
	if len(s) <= validation.LabelValueMaxLength {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(s[:validation.LabelValueMaxLength-len(suffix)], "-_.") + suffix
}

// applyStatus writes status as a server-side apply of the status subresource: the fields hacp sets
// are owned by FieldOwner, nothing else is touched, and there is no read-modify-write race with the
// spec that GitOps tools own.
// observedStepSize is the resolution of status.lastObservedTime; statusRefresh is how often a
// reconciler confirms a status that nothing else changes.
const (
	observedStepSize = 10 * time.Second
	statusRefresh    = 30 * time.Second
)

func observedStep(t time.Time) time.Time { return t.UTC().Truncate(observedStepSize) }

// refreshed caps a reconcile result's requeue at statusRefresh, so that a running manager keeps
// status.lastObservedTime current.
func refreshed(r ctrl.Result) ctrl.Result {
	if r.RequeueAfter == 0 || r.RequeueAfter > statusRefresh {
		r.RequeueAfter = statusRefresh
	}
	return r
}

// getLive reads the object a request names into obj. live is false when it is gone or being
// deleted: everything hacp made for it carries an owner reference, and the garbage collector
// removes it. err is a failed read, never NotFound.
func getLive(ctx context.Context, c client.Client, key client.ObjectKey, obj client.Object) (live bool, err error) {
	if err := c.Get(ctx, key, obj); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return obj.GetDeletionTimestamp().IsZero(), nil
}

func applyStatus(ctx context.Context, c client.Client, obj client.Object, status any) error {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return err
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return fmt.Errorf("converting status: %w", err)
	}
	// When the manager last confirmed the status, in steps so that a write it triggers itself
	// (the reconcilers watch their own objects) writes the same value and ends there.
	st["lastObservedTime"] = observedStep(time.Now()).Format(time.RFC3339)
	u := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.GetName())
	u.SetNamespace(obj.GetNamespace())
	return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// applyOwned server-side applies obj (a typed object with TypeMeta set) with owner as its
// controller, so that deleting the owner garbage-collects it.
func applyOwned(ctx context.Context, c client.Client, owner, obj client.Object) error {
	if owner != nil {
		if err := controllerutil.SetControllerReference(owner, obj, c.Scheme()); err != nil {
			return err
		}
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	// The converter writes zero-valued structs (creationTimestamp: null, status: {}); dropping
	// them keeps this field owner from claiming fields it does not mean to set.
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "status")
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// withOwner sets owner as obj's controller and returns obj, for plain Creates.
func withOwner[T client.Object](scheme *runtime.Scheme, owner client.Object, obj T) T {
	if err := controllerutil.SetControllerReference(owner, obj, scheme); err != nil {
		panic(err) // only fails for owners of a kind the scheme lacks: a programming error
	}
	return obj
}

// truncate keeps condition messages within the API's 32 KiB bound and readable.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
