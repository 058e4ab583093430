//go:build linux

package kubeadm

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubectlImage is an image with the lab's kubectl, for Pods that talk to the API through the
// kubernetes Service with their ServiceAccount.
const KubectlImage = "lab.hacp.dev/kubectl:v1.37.2"

const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BuildImages makes the images kubeadm names for the assets' Kubernetes version (except CoreDNS,
// whose addon the lab skips), plus KubectlImage, with hack/ocibuild, and sets l.Images. The
// Kubernetes images are cached next to the assets; pause is built from test/kubeadm/pause each run.
func (l *Lab) BuildImages() error {
	list, err := output(filepath.Join(l.Assets, "bin/kubeadm"), "config", "images", "list", "--kubernetes-version", KubernetesVersion)
	if err != nil {
		return err
	}
	ocibuild := filepath.Join(l.Root, "bin/ocibuild")
	if err := l.goBuild(ocibuild, "./hack/ocibuild"); err != nil {
		return err
	}
	cache := filepath.Join(l.Assets, "images")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	var images []string
	for _, ref := range strings.Fields(list) {
		name := ref[strings.LastIndex(ref, "/")+1:]
		name, _, _ = strings.Cut(name, ":")
		var args []string
		tarball := filepath.Join(cache, name+".tar")
		switch name {
		case "coredns":
			continue
		case "pause":
			PauseImage = ref
			bin := filepath.Join(l.Root, "bin/pause")
			if err := l.goBuild(bin, "./test/kubeadm/pause"); err != nil {
				return err
			}
			tarball = filepath.Join(l.Root, "images/pause.tar")
			args = []string{"--file", bin + ":/pause:0755", "--entrypoint", "/pause"}
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kube-proxy":
			bin := "/usr/local/bin/" + name
			args = []string{"--file", filepath.Join(l.Assets, "bin", name) + ":" + bin + ":0755", "--entrypoint", bin, "--env", imagePath}
			if name == "kube-proxy" {
				args = append(args, "--rootfs", filepath.Join(l.Assets, "rootfs/iptables"))
			}
		default:
			return fmt.Errorf("kubeadm names an image the lab cannot build: %s", ref)
		}
		if err := l.ocibuild(ocibuild, tarball, []string{ref}, args); err != nil {
			return err
		}
		images = append(images, tarball)
	}
	tarball := filepath.Join(cache, "kubectl.tar")
	if err := l.ocibuild(ocibuild, tarball, []string{KubectlImage}, []string{"--file",
		filepath.Join(l.Assets, "bin/kubectl") + ":/usr/local/bin/kubectl:0755", "--entrypoint", "/usr/local/bin/kubectl", "--env", imagePath}); err != nil {
		return err
	}
	l.Images = append(images, tarball)
	// Every node's containerd sandboxes Pods with kubeadm's pause tag.
	for _, n := range l.Nodes() {
		if err := os.WriteFile(filepath.Join(n.Dir, "containerd/config.toml"), []byte(n.containerdConfig()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ocibuild writes tarball unless it exists with the same tags (a cached Kubernetes image).
func (l *Lab) ocibuild(ocibuild, tarball string, tags, args []string) error {
	if have, err := imageTags(tarball); err == nil && strings.Join(have, ",") == strings.Join(tags, ",") && !strings.HasPrefix(tarball, l.Root) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		return err
	}
	l.Logf("building image %s", strings.Join(tags, ", "))
	all := []string{"-o", tarball + ".tmp"}
	for _, t := range tags {
		all = append(all, "-t", t)
	}
	if _, err := output(ocibuild, append(all, args...)...); err != nil {
		return err
	}
	return os.Rename(tarball+".tmp", tarball)
}

func (l *Lab) goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = l.Repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, b)
	}
	return nil
}

// imageTags reads the tags of a docker-archive tarball from its manifest.json.
func imageTags(tarball string) ([]string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no manifest.json", tarball)
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimPrefix(h.Name, "./") != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return nil, err
		}
		var tags []string
		for _, e := range m {
			tags = append(tags, e.RepoTags...)
		}
		return tags, nil
	}
}
