package controllers

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/agent"
)

// Each group's agents ask their own group's bootstrap agent (hacpctl bootstrap names the same
// socket in the static Pod): another group's agent on the node never retires it.
func TestDaemonSetAsksItsOwnGroupsBootstrap(t *testing.T) {
	args := func(ns, name string) []string {
		vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		return desiredDaemonSet(vg, "hacp:test").Spec.Template.Spec.Containers[0].Args
	}
	api, ingress := args("kube-system", "kube-apiserver"), args("kube-system", "ingress")
	if want := "--handover-socket=" + agent.HandoverSocket("kube-system", "kube-apiserver"); !slices.Contains(api, want) {
		t.Fatalf("args %v lack %s", api, want)
	}
	if want := "--handover-socket=" + agent.HandoverSocket("kube-system", "ingress"); !slices.Contains(ingress, want) {
		t.Fatalf("args %v lack %s", ingress, want)
	}
}
