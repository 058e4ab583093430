// Command ocibuild writes a container image as a docker-archive tarball from folders and files on
// this machine, with no container engine and no registry (github.com/google/go-containerregistry).
// `ctr images import`, `docker load` and `crane push` take the result.
//
// The output is reproducible: entries are sorted, owned by root, dated SOURCE_DATE_EPOCH (0 when
// unset), and the config carries no build host or time, so the same inputs give the same digest.
//
//	go run ./hack/ocibuild -o OUT.tar -t TAG [-t TAG]... [--rootfs DIR]... [--file SRC:DST[:MODE]]...
//	    [--dir DST[:MODE]]... [--symlink DST:TARGET]... [--entrypoint PATH] [--cmd ARG]... [--env K=V]...
//	    [--user UID] [--label K=V]...
//	go run ./hack/ocibuild -push OUT.tar -t REGISTRY/NAME:TAG
//
// Each --rootfs folder becomes one layer; --file, --dir and --symlink entries form one last layer.
// The image digest is printed on stdout.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var tags, rootfs, files, dirs, links, cmd, env, labels list
	out := flag.String("o", "", "output tarball (docker-archive)")
	push := flag.String("push", "", "instead of building, push the image in this tarball to every -t (credentials from ~/.docker/config.json)")
	entrypoint := flag.String("entrypoint", "", "entrypoint (one path; arguments go in --cmd)")
	user := flag.String("user", "", "user the image runs as (numeric UID)")
	workdir := flag.String("workdir", "/", "working directory")
	flag.Var(&tags, "t", "image tag (repeatable)")
	flag.Var(&rootfs, "rootfs", "folder whose contents become a layer at / (repeatable)")
	flag.Var(&files, "file", "SRC:DST[:MODE] file to add (repeatable)")
	flag.Var(&dirs, "dir", "DST[:MODE] empty folder to add (repeatable)")
	flag.Var(&links, "symlink", "DST:TARGET symbolic link to add (repeatable)")
	flag.Var(&cmd, "cmd", "default argument (repeatable)")
	flag.Var(&env, "env", "K=V environment variable (repeatable)")
	flag.Var(&labels, "label", "K=V label (repeatable)")
	flag.Parse()
	if *push != "" && len(tags) > 0 {
		if err := Push(*push, tags); err != nil {
			fail(err)
		}
		return
	}
	if *out == "" || len(tags) == 0 {
		fmt.Fprintln(os.Stderr, "usage: ocibuild -o OUT.tar -t TAG [--rootfs DIR] [--file SRC:DST[:MODE]] ...")
		os.Exit(2)
	}
	spec := Spec{Tags: tags, RootFS: rootfs, Entrypoint: *entrypoint, Cmd: cmd, Env: env, User: *user, WorkDir: *workdir}
	for _, f := range files {
		e, err := parseFile(f)
		if err != nil {
			fail(err)
		}
		spec.Entries = append(spec.Entries, e)
	}
	for _, d := range dirs {
		dst, mode, err := splitMode(d, 0o755)
		if err != nil {
			fail(err)
		}
		spec.Entries = append(spec.Entries, Entry{Dst: dst, Mode: mode, Dir: true})
	}
	for _, l := range links {
		dst, target, ok := strings.Cut(l, ":")
		if !ok {
			fail(fmt.Errorf("--symlink %q: want DST:TARGET", l))
		}
		spec.Entries = append(spec.Entries, Entry{Dst: dst, Link: target})
	}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[k] = v
	}
	digest, err := Write(*out, spec)
	if err != nil {
		fail(err)
	}
	fmt.Println(digest)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ocibuild:", err)
	os.Exit(1)
}

// Push uploads the (single) image of a docker-archive tarball to each tag.
func Push(tarPath string, tags []string) error {
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		return err
	}
	for _, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing %s: %w", t, err)
		}
		fmt.Fprintln(os.Stderr, "ocibuild: pushed", t)
	}
	return nil
}

// Spec is what goes into an image.
type Spec struct {
	Tags       []string
	RootFS     []string
	Entries    []Entry
	Entrypoint string
	Cmd        []string
	Env        []string
	User       string
	WorkDir    string
	Labels     map[string]string
}

// Entry is one file, folder or symbolic link of the last layer.
type Entry struct {
	Src, Dst, Link string
	Mode           int64
	Dir            bool
}

func parseFile(s string) (Entry, error) {
	src, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Entry{}, fmt.Errorf("--file %q: want SRC:DST[:MODE]", s)
	}
	dst, mode, err := splitMode(rest, -1)
	if err != nil {
		return Entry{}, err
	}
	if mode < 0 {
		st, err := os.Stat(src)
		if err != nil {
			return Entry{}, err
		}
		mode = int64(st.Mode().Perm())
	}
	return Entry{Src: src, Dst: dst, Mode: mode}, nil
}

func splitMode(s string, def int64) (string, int64, error) {
	dst, m, ok := strings.Cut(s, ":")
	if !ok {
		return dst, def, nil
	}
	mode, err := strconv.ParseInt(m, 8, 32)
	if err != nil {
		return "", 0, fmt.Errorf("mode %q of %s: %w", m, dst, err)
	}
	return dst, mode, nil
}

func epoch() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

// Write builds the image and writes it to out with every tag; it returns the image digest.
func Write(out string, s Spec) (string, error) {
	img := empty.Image
	for _, dir := range s.RootFS {
		l, err := layer(func(tw *tar.Writer) error { return addTree(tw, dir) })
		if err != nil {
			return "", fmt.Errorf("layer from %s: %w", dir, err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return "", err
		}
	}
	if len(s.Entries) > 0 {
		l, err := layer(func(tw *tar.Writer) error { return addEntries(tw, s.Entries) })
		if err != nil {
			return "", err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return "", err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch()}
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, s.Env...)
	if s.Entrypoint != "" {
		cf.Config.Entrypoint = []string{s.Entrypoint}
	}
	cf.Config.Cmd = s.Cmd
	cf.Config.User = s.User
	cf.Config.WorkingDir = s.WorkDir
	cf.Config.Labels = s.Labels
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	refs := map[name.Reference]v1.Image{}
	for _, t := range s.Tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return "", fmt.Errorf("tag %q: %w", t, err)
		}
		refs[ref] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	d, err := img.Digest()
	return d.String(), err
}

// layer renders a layer's tar into memory (these images are tens of megabytes) so that its digest
// is computed once and the bytes are identical on every read.
func layer(fill func(*tar.Writer) error) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

func header(name string, mode int64) *tar.Header {
	return &tar.Header{Name: name, Mode: mode, ModTime: epoch(), Format: tar.FormatPAX}
}

// addTree adds every entry below dir, sorted, as root-owned files keeping their permission bits.
func addTree(tw *tar.Writer, dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		mode := int64(st.Mode().Perm())
		if st.Mode()&fs.ModeSetuid != 0 {
			mode |= 0o4000
		}
		if st.Mode()&fs.ModeSetgid != 0 {
			mode |= 0o2000
		}
		if st.Mode()&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h := header(rel, 0o777)
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case st.IsDir():
			h := header(rel+"/", mode)
			h.Typeflag = tar.TypeDir
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			if err := addFile(tw, p, rel, mode); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported file type %s", p, st.Mode().Type())
		}
	}
	return nil
}

func addFile(tw *tar.Writer, src, dst string, mode int64) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	h := header(dst, mode)
	h.Typeflag, h.Size = tar.TypeReg, int64(len(b))
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}

// addEntries adds the --file, --dir and --symlink entries, and the parent folders they need.
func addEntries(tw *tar.Writer, entries []Entry) error {
	sorted := append([]Entry(nil), entries...)
	for i := range sorted {
		sorted[i].Dst = strings.TrimPrefix(path.Clean("/"+sorted[i].Dst), "/")
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Dst < sorted[j].Dst })
	made := map[string]bool{}
	var parents func(p string) error
	parents = func(p string) error {
		d := path.Dir(p)
		if d == "." || made[d] {
			return nil
		}
		if err := parents(d); err != nil {
			return err
		}
		made[d] = true
		h := header(d+"/", 0o755)
		h.Typeflag = tar.TypeDir
		return tw.WriteHeader(h)
	}
	for _, e := range sorted {
		if err := parents(e.Dst); err != nil {
			return err
		}
		switch {
		case e.Dir:
			if made[e.Dst] {
				continue
			}
			made[e.Dst] = true
			h := header(e.Dst+"/", e.Mode)
			h.Typeflag = tar.TypeDir
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case e.Link != "":
			h := header(e.Dst, 0o777)
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Link
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		default:
			if err := addFile(tw, e.Src, e.Dst, e.Mode); err != nil {
				return err
			}
		}
	}
	return nil
}
