// Package builders makes the test objects hacp's tests share, in JobSet's wrappers style: a
// builder starts from the least a valid object needs, each method sets one thing, Obj returns it.
// A test then says only what matters to it instead of repeating spec literals.
package builders

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/keepalived"
)

// NodeWrapper builds a Node.
type NodeWrapper struct{ corev1.Node }

// Node is a Node with no addresses and no conditions.
func Node(name string) *NodeWrapper {
	return &NodeWrapper{corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}}
}

// InternalIP adds an InternalIP address.
func (w *NodeWrapper) InternalIP(ip string) *NodeWrapper {
	w.Status.Addresses = append(w.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	return w
}

// Label sets a label.
func (w *NodeWrapper) Label(key, value string) *NodeWrapper {
	set(&w.Labels, key, value)
	return w
}

// ControlPlane labels the Node as kubeadm labels a control-plane node.
func (w *NodeWrapper) ControlPlane() *NodeWrapper {
	return w.Label("node-role.kubernetes.io/control-plane", "")
}

// Ready sets the Ready condition, with reason, since a time.
func (w *NodeWrapper) Ready(status corev1.ConditionStatus, reason string, since time.Time) *NodeWrapper {
	w.Status.Conditions = append(w.Status.Conditions, corev1.NodeCondition{
		Type: corev1.NodeReady, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(since)})
	return w
}

// Obj returns the Node.
func (w *NodeWrapper) Obj() corev1.Node { return w.Node }

// PodWrapper builds a Pod.
type PodWrapper struct{ corev1.Pod }

// Pod is a Pod on node.
func Pod(namespace, name, node string) *PodWrapper {
	return &PodWrapper{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: corev1.PodSpec{NodeName: node}}}
}

// MirrorPod is kubeadm's static Pod of component (kube-apiserver, etcd) on node, in kube-system.
func MirrorPod(component, node string) *PodWrapper {
	return Pod(metav1.NamespaceSystem, component+"-"+node, node).Label("component", component).Label("tier", "control-plane")
}

// Label sets a label.
func (w *PodWrapper) Label(key, value string) *PodWrapper {
	set(&w.Labels, key, value)
	return w
}

// Annotation sets an annotation.
func (w *PodWrapper) Annotation(key, value string) *PodWrapper {
	set(&w.Annotations, key, value)
	return w
}

// set sets key in a label or annotation map, making the map if there is none.
func set(m *map[string]string, key, value string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[key] = value
}

// Ready sets the PodReady condition.
func (w *PodWrapper) Ready(ready bool) *PodWrapper {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	w.Status.Conditions = append(w.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: st})
	return w
}

// Obj returns the Pod.
func (w *PodWrapper) Obj() *corev1.Pod { return &w.Pod }

// VIPGroupWrapper builds a VIPGroup.
type VIPGroupWrapper struct{ hacpv1.VIPGroup }

// VIPGroup is a VIPGroup named name in kube-system, with its UID its name.
func VIPGroup(name string) *VIPGroupWrapper {
	return &VIPGroupWrapper{hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem, UID: types.UID(name)}}}
}

// Namespace moves the VIPGroup to namespace.
func (w *VIPGroupWrapper) Namespace(ns string) *VIPGroupWrapper {
	w.ObjectMeta.Namespace = ns
	return w
}

// VRID sets spec.virtualRouterID.
func (w *VIPGroupWrapper) VRID(id int32) *VIPGroupWrapper {
	w.Spec.VirtualRouterID = id
	return w
}

// VIPs sets spec.virtualIPs.
func (w *VIPGroupWrapper) VIPs(vips ...string) *VIPGroupWrapper {
	w.Spec.VirtualIPs = vips
	return w
}

// Interface sets spec.interface.
func (w *VIPGroupWrapper) Interface(iface string) *VIPGroupWrapper {
	w.Spec.Interface = iface
	return w
}

// Generation sets metadata.generation.
func (w *VIPGroupWrapper) Generation(gen int64) *VIPGroupWrapper {
	w.ObjectMeta.Generation = gen
	return w
}

// Created sets metadata.creationTimestamp.
func (w *VIPGroupWrapper) Created(t time.Time) *VIPGroupWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// Condition sets a status condition.
func (w *VIPGroupWrapper) Condition(typ string, status metav1.ConditionStatus, reason, message string) *VIPGroupWrapper {
	w.Status.Conditions = append(w.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
	return w
}

// Master sets status.master.
func (w *VIPGroupWrapper) Master(node string) *VIPGroupWrapper {
	w.Status.Master = node
	return w
}

// NodeStatus adds a node to status.nodes.
func (w *VIPGroupWrapper) NodeStatus(name string, state hacpv1.VRRPState, unheard bool) *VIPGroupWrapper {
	w.Status.Nodes = append(w.Status.Nodes, hacpv1.VIPGroupNodeStatus{Name: name, State: state, Unheard: unheard})
	return w
}

// Obj returns the VIPGroup.
func (w *VIPGroupWrapper) Obj() *hacpv1.VIPGroup { return &w.VIPGroup }

// HAControlPlaneWrapper builds an HAControlPlane.
type HAControlPlaneWrapper struct{ hacpv1.HAControlPlane }

// HAControlPlane is an HAControlPlane named name in kube-system with endpoint.
func HAControlPlane(name, endpoint string) *HAControlPlaneWrapper {
	return &HAControlPlaneWrapper{hacpv1.HAControlPlane{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceSystem},
		Spec:       hacpv1.HAControlPlaneSpec{ControlPlaneEndpoint: endpoint},
	}}
}

// VIPGroupRef sets spec.vipGroupRef.
func (w *HAControlPlaneWrapper) VIPGroupRef(name string) *HAControlPlaneWrapper {
	w.Spec.VIPGroupRef = &hacpv1.LocalObjectReference{Name: name}
	return w
}

// Obj returns the HAControlPlane.
func (w *HAControlPlaneWrapper) Obj() *hacpv1.HAControlPlane { return &w.HAControlPlane }

// Defaulted fills the spec's defaults as the API server would.
func (w *VIPGroupWrapper) Defaulted() *VIPGroupWrapper {
	w.Spec = keepalived.Defaulted(w.Spec)
	return w
}
