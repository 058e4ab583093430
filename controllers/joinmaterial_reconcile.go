package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// reconcileJoinMaterial keeps bootstrap tokens and the certificate key valid. It returns when it
// next needs to act.
func (r *HAControlPlaneReconciler) reconcileJoinMaterial(_ context.Context, hcp *hacpv1.HAControlPlane, st *hacpv1.HAControlPlaneStatus) (time.Duration, error) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: hacpv1.ConditionJoinMaterialReady, Status: metav1.ConditionUnknown, Reason: hacpv1.ReasonNotImplemented,
		Message: "join material rotation is not implemented in this version", ObservedGeneration: hcp.Generation,
	})
	return 0, nil
}
