package controllers

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
)

// Each group's agents ask their own group's bootstrap agent (hacpctl bootstrap names the same
// socket in the static Pod): another group's agent on the node never retires it.
func TestDaemonSetAsksItsOwnGroupsBootstrap(t *testing.T) {
	args := func(ns, name string) []string {
		vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		return desiredDaemonSet(vg, "hacp:test", false).Spec.Template.Spec.Containers[0].Args
	}
	api, ingress := args("kube-system", "kube-apiserver"), args("kube-system", "ingress")
	if want := "--handover-socket=" + contract.HandoverSocket("kube-system", "kube-apiserver"); !slices.Contains(api, want) {
		t.Fatalf("args %v lack %s", api, want)
	}
	if want := "--handover-socket=" + contract.HandoverSocket("kube-system", "ingress"); !slices.Contains(ingress, want) {
		t.Fatalf("args %v lack %s", ingress, want)
	}
}

// The agent Pod: ready only while keepalived runs the node's current config (the supervisor keeps
// contract.ReadyFile), and a PID 1 that reaps keepalived's orphans (the pause container's).
func TestAgentPodReadinessAndReaping(t *testing.T) {
	vg := &hacpv1.VIPGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-apiserver"}}
	spec := desiredDaemonSet(vg, "hacp:test", false).Spec.Template.Spec
	if spec.ShareProcessNamespace == nil || !*spec.ShareProcessNamespace {
		t.Error("no shared process namespace: the agent would be PID 1 and leave zombies unreaped")
	}
	c := spec.Containers[0]
	p := c.ReadinessProbe
	if p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, []string{contract.CheckBinary, "ready", "--dir=/run/hacp"}) {
		t.Fatalf("readiness probe %+v: want %s ready --dir=/run/hacp", p, contract.CheckBinary)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || m.MountPath == "/run/hacp"
	}
	if !mounted {
		t.Fatal("the probe's directory is not the agent's run directory")
	}
}
