package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// HAControlPlaneReconciler reports quorum health and keeps join material valid.
type HAControlPlaneReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	Clock  clock.PassiveClock
}

// +kubebuilder:rbac:groups=hacp.dev,resources=hacontrolplanes,verbs=get;list;watch
// +kubebuilder:rbac:groups=hacp.dev,resources=hacontrolplanes/status,verbs=get;patch;update

// Reconcile brings one HAControlPlane's status up to date.
func (r *HAControlPlaneReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var hcp hacpv1.HAControlPlane
	if err := r.Get(ctx, req.NamespacedName, &hcp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := hacpv1.HAControlPlaneStatus{
		ObservedGeneration: hcp.Generation,
		Conditions:         hcp.Status.Conditions,
	}
	for _, t := range []string{hacpv1.ConditionAvailable, hacpv1.ConditionQuorumHealthy, hacpv1.ConditionVIPReady, hacpv1.ConditionJoinMaterialReady} {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type:               t,
			Status:             metav1.ConditionUnknown,
			Reason:             hacpv1.ReasonNotImplemented,
			Message:            "not implemented in this version",
			ObservedGeneration: hcp.Generation,
		})
	}
	logger.V(1).Info("Reconciled HAControlPlane")
	return ctrl.Result{}, applyStatus(ctx, r.Client, &hcp, &status)
}

// SetupWithManager registers the reconciler.
func (r *HAControlPlaneReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&hacpv1.HAControlPlane{}).
		Named("hacontrolplane").
		Complete(r)
}
