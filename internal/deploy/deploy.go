// Package deploy renders what `make deploy` applies: a kustomize directory under config/ with the
// manager's image set through kustomize's own images transformer, exactly as a user's overlay with
// `images:` does. The manager reads its own image and gives it to agent DaemonSets, so this is the
// only place an image is set.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ImageName is the image name the manifests under config/ use; IMG replaces it.
const ImageName = "hacp"

// Render returns config dir (a path to a kustomize directory) as YAML, with image img.
func Render(dir, img string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	name, tag, digest, err := SplitImage(img)
	if err != nil {
		return nil, err
	}
	overlay, err := os.MkdirTemp("", "hacp-deploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(overlay)
	// kustomize takes a base only as a relative path.
	rel, err := filepath.Rel(overlay, abs)
	if err != nil {
		return nil, err
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %q\nimages:\n- name: %s\n  newName: %q\n", rel, ImageName, name)
	if tag != "" {
		k += fmt.Sprintf("  newTag: %q\n", tag)
	}
	if digest != "" {
		k += fmt.Sprintf("  digest: %q\n", digest)
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		return nil, err
	}
	// Legacy order, as kubectl kustomize prints (krusty's default keeps input order): Namespaces and
	// CRDs before what goes in them, so that one kubectl apply creates everything. The real-cluster
	// lab caught the other order: `namespaces "hacp-system" not found`.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return res.AsYaml()
}

// SplitImage splits an image reference into name, tag and digest ("reg:5000/hacp:v1" gives
// "reg:5000/hacp", "v1", "").
func SplitImage(img string) (name, tag, digest string, err error) {
	if img == "" || strings.ContainsAny(img, " \t\n") {
		return "", "", "", fmt.Errorf("image %q is not an image reference", img)
	}
	name, digest, _ = strings.Cut(img, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	if name == "" {
		return "", "", "", fmt.Errorf("image %q has no name", img)
	}
	return name, tag, digest, nil
}
