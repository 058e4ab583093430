// Package image checks what `make image` builds, without a container engine: the tarball is read
// with go-containerregistry, its filesystem unpacked, and the binaries run in it with chroot.
package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const tag = "hacp.test/hacp:image-test"

var root = filepath.Join("..", "..")

// makeImage runs `make image` into out and returns the image.
func makeImage(t *testing.T, out string) v1.Image {
	t.Helper()
	// A fixed VERSION: git describe would change with any commit made while the test runs.
	cmd := exec.Command("make", "-s", "-C", root, "image", "IMG="+tag, "IMAGE_TAR="+out, "VERSION=v0.0.0-image-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &ref)
	if err != nil {
		t.Fatalf("reading %s as a docker-archive with tag %s: %v", out, tag, err)
	}
	return img
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; this test needs root (chroot)")
		}
		t.Skip("needs root: the image's binaries run in its filesystem with chroot")
	}
	for _, tool := range []string{"apt-get", "dpkg-deb", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("make image needs %s", tool)
		}
	}
}

func TestImage(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	img := makeImage(t, filepath.Join(dir, "a.tar"))
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("reproducible", func(t *testing.T) {
		again := makeImage(t, filepath.Join(dir, "b.tar"))
		d2, err := again.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d2 != digest {
			t.Errorf("same inputs, two digests: %s and %s", digest, d2)
		}
	})

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/usr/local/bin/hacp-manager" {
		t.Errorf("entrypoint %q", got)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}

	// The flattened filesystem: headers checked as the tarball says, then unpacked to run binaries.
	fsDir := filepath.Join(dir, "rootfs")
	headers := unpack(t, mutate.Extract(img), fsDir)
	for _, bin := range []string{"/usr/local/bin/hacp-manager", "/usr/local/bin/hacp-agent", "/usr/local/bin/hacp-check", "/usr/local/bin/hacpctl"} {
		h, ok := headers[bin]
		if !ok {
			t.Errorf("%s missing", bin)
			continue
		}
		// keepalived's enable_script_security refuses a check script that is not root's or is
		// writable by others; hacp-check is the check script.
		if h.Uid != 0 || h.Gid != 0 || h.Mode&0o7777 != 0o755 {
			t.Errorf("%s: owner %d:%d mode %o, want 0:0 0755", bin, h.Uid, h.Gid, h.Mode&0o7777)
		}
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/etc/passwd", "/tmp", "/run/hacp", "/usr/share/hacp/debs.txt"} {
		if _, ok := headers[p]; !ok {
			t.Errorf("%s missing from the image", p)
		}
	}
	for p, h := range headers {
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, not root", p, h.Uid, h.Gid)
		}
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("chroot", append([]string{fsDir}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%v in the image: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("/usr/sbin/keepalived", "--version"); !strings.Contains(out, "Keepalived v2.") {
		t.Errorf("keepalived --version in the image: %q", out)
	}
	if out := run("/usr/local/bin/hacp-agent", "version"); !regexp.MustCompile(`(?m)^hacp v0\.0\.0-image-test\nkeepalived: Keepalived v2\.`).MatchString(out) {
		t.Errorf("hacp-agent version in the image says %q, want hacp's and keepalived's versions", out)
	}
	run("/usr/local/bin/hacpctl", "help")
	run("/usr/local/bin/hacp-manager", "--help")
	run("/bin/ip", "-V")
	// The check script as keepalived runs it, and as configs written before hacp-check name it
	// (no API server here: it must fail, not crash).
	for _, bin := range []string{"/usr/local/bin/hacp-check", "/usr/local/bin/hacp-agent"} {
		if out, err := exec.Command("chroot", fsDir, bin, "check-apiserver", "--port", "1").CombinedOutput(); err == nil {
			t.Errorf("%s check-apiserver against a closed port succeeded: %s", bin, out)
		} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s check-apiserver: %v %s", bin, err, out)
		}
	}

	size := imageSize(t, img)
	t.Logf("image %s: %s, %d layers, %.1f MiB compressed", tag, digest, len(mustLayers(t, img)), float64(size)/(1<<20))
}

// TestDockerfileInStep: the Dockerfile installs the Debian packages and builds the binaries that
// `make image` puts in the image, with the same link flags.
func TestDockerfileInStep(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^IMAGE_DEBS \?= (.+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no IMAGE_DEBS in the Makefile")
	}
	d := regexp.MustCompile(`apt-get install -y --no-install-recommends ([^&]+)&&`).FindSubmatch(df)
	if d == nil {
		t.Fatal("no apt-get install line in the Dockerfile")
	}
	if a, b := words(string(m[1])), words(string(d[1])); a != b {
		t.Errorf("Makefile IMAGE_DEBS %q, Dockerfile installs %q", a, b)
	}
	var imageBins []string
	for _, f := range regexp.MustCompile(`--file \$\(LOCALBIN\)/(\S+):/usr/local/bin/(\S+):0755`).FindAllSubmatch(mk, -1) {
		imageBins = append(imageBins, string(f[2]))
	}
	var dockerBins []string
	loop := regexp.MustCompile(`for c in ([^;]+);`).FindSubmatch(df)
	if loop == nil {
		t.Fatal("no build loop in the Dockerfile")
	}
	for _, pair := range strings.Fields(string(loop[1])) {
		_, bin, _ := strings.Cut(pair, ":")
		dockerBins = append(dockerBins, bin)
	}
	if a, b := words(strings.Join(imageBins, " ")), words(strings.Join(dockerBins, " ")); a != b || a == "" {
		t.Errorf("make image puts %q in /usr/local/bin, the Dockerfile %q", a, b)
	}
	if !bytes.Contains(df, []byte(`-s -w -X hacp.dev/hacp/internal/version.Version=`)) ||
		!bytes.Contains(mk, []byte(`GO_LDFLAGS = -s -w -X hacp.dev/hacp/internal/version.Version=`)) {
		t.Error("the Makefile and the Dockerfile must strip and version the binaries alike")
	}
}

func words(s string) string {
	f := strings.Fields(s)
	sort.Strings(f)
	return strings.Join(f, " ")
}

func unpack(t *testing.T, rc io.ReadCloser, dir string) map[string]*tar.Header {
	t.Helper()
	defer rc.Close()
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		headers[p] = h
		dst := filepath.Join(dir, p)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, os.FileMode(h.Mode&0o777)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			_ = os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			_ = os.MkdirAll(filepath.Dir(dst), 0o755)
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode&0o777))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return headers
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func imageSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	var n int64
	for _, l := range mustLayers(t, img) {
		s, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		n += s
	}
	return n
}

// TestKubectlPlugin: `make build` provides kubectl-hacp, and the real kubectl runs it as
// `kubectl hacp`.
func TestKubectlPlugin(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is not on PATH")
	}
	if b, err := exec.Command("make", "-s", "-C", root, "build").CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, b)
	}
	bin, err := filepath.Abs(filepath.Join(root, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	list := exec.Command(kubectl, "plugin", "list")
	list.Env = env
	out, _ := list.CombinedOutput() // exits non-zero when other plugins on PATH warn
	if !strings.Contains(string(out), filepath.Join(bin, "kubectl-hacp")) {
		t.Errorf("kubectl plugin list does not find bin/kubectl-hacp:\n%s", out)
	}
	help := exec.Command(kubectl, "hacp", "help")
	help.Env = env
	out, err = help.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "whatif") || !strings.Contains(string(out), "join") {
		t.Errorf("kubectl hacp help: %v\n%s", err, out)
	}
}
