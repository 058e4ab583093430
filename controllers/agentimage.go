package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ManagerContainer is the manager's container name in config/manager.
const ManagerContainer = "manager"

// OwnImage returns the image of container in the Pod namespace/name: the manager reads its own, and
// agent DaemonSets default to it. So one image name set at deploy time (`make deploy IMG=x`, or
// kustomize's `images:` in a user's overlay) reaches the manager and every agent, with nothing else
// to keep in step. Only a VIPGroup's spec.image or the manager's --agent-image overrides it.
func OwnImage(ctx context.Context, c client.Reader, namespace, name, container string) (string, error) {
	if namespace == "" || name == "" {
		return "", fmt.Errorf("the manager's Pod is unknown: set POD_NAMESPACE and POD_NAME (downward API) or --agent-image")
	}
	var pod corev1.Pod
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &pod); err != nil {
		return "", fmt.Errorf("reading the manager's own Pod %s/%s to learn its image: %w", namespace, name, err)
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == container {
			return ctr.Image, nil
		}
	}
	return "", fmt.Errorf("pod %s/%s has no container %q", namespace, name, container)
}
