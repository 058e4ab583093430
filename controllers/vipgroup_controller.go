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

// VIPGroupReconciler renders keepalived configs for a VIPGroup's members and runs them.
type VIPGroupReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	Clock  clock.PassiveClock
}

// +kubebuilder:rbac:groups=hacp.dev,resources=vipgroups,verbs=get;list;watch
// +kubebuilder:rbac:groups=hacp.dev,resources=vipgroups/status,verbs=get;patch;update

// Reconcile brings one VIPGroup's status up to date.
func (r *VIPGroupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var vg hacpv1.VIPGroup
	if err := r.Get(ctx, req.NamespacedName, &vg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := hacpv1.VIPGroupStatus{
		ObservedGeneration: vg.Generation,
		VirtualRouterID:    vg.Spec.VirtualRouterID,
		Conditions:         vg.Status.Conditions,
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               hacpv1.ConditionReady,
		Status:             metav1.ConditionUnknown,
		Reason:             hacpv1.ReasonNotImplemented,
		Message:            "keepalived rendering and the node agent are not implemented in this version",
		ObservedGeneration: vg.Generation,
	})
	logger.V(1).Info("Reconciled VIPGroup")
	return ctrl.Result{}, applyStatus(ctx, r.Client, &vg, &status)
}

// SetupWithManager registers the reconciler.
func (r *VIPGroupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&hacpv1.VIPGroup{}).
		Named("vipgroup").
		Complete(r)
}
