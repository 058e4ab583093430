package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// FieldOwner is the one server-side apply field manager for everything hacp writes.
const FieldOwner = "hacp"

// Labels hacp puts on what it creates; the manager's cache only holds objects carrying them.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	LabelManagedByValue = "hacp"
	LabelVIPGroup       = "hacp.dev/vipgroup"
	LabelHAControlPlane = "hacp.dev/hacontrolplane"
)

// applyStatus writes status as a server-side apply of the status subresource: the fields hacp sets
// are owned by FieldOwner, nothing else is touched, and there is no read-modify-write race with the
// spec that GitOps tools own.
func applyStatus(ctx context.Context, c client.Client, obj client.Object, status any) error {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return err
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return fmt.Errorf("converting status: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.GetName())
	u.SetNamespace(obj.GetNamespace())
	return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership)
}
