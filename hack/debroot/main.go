// Command debroot unpacks Debian packages, and exactly the shared libraries their programs need,
// into a directory that becomes an image's root filesystem. It is how hacp's image gets keepalived
// and iproute2 (and the lab's kube-proxy image its iptables) without a container engine, a registry
// or the host's own files: every file comes from a .deb that `apt-get download` fetched.
//
// Usage: go run ./hack/debroot [-cache DIR] [-exclude PKG,...] ROOTFS PKG...
//
// The library closure follows DT_NEEDED of every ELF file unpacked so far: a missing soname is
// looked up in the recursive Depends of the requested packages (only library packages are
// considered), and the package that ships it is unpacked, until nothing is missing. Documentation,
// manual pages and locales are pruned. The package list with versions is written to
// ROOTFS/usr/share/hacp/debs.txt, so an image says what it was made of.
package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// libDirs are where the dynamic loader of Debian's amd64/arm64 glibc looks without ld.so.cache.
var libDirs = []string{"lib", "lib64", "usr/lib", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu",
	"lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"}

// pruned are folders no program needs at run time.
var pruned = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
	"usr/share/lintian", "usr/share/bug", "usr/share/bash-completion", "etc/init.d", "lib/systemd",
	"usr/lib/systemd", "etc/default", "etc/logrotate.d",
	// iproute2's tc plugins need libatm, and hacp runs no tc.
	"usr/lib/tc", "usr/lib/x86_64-linux-gnu/tc", "usr/lib/aarch64-linux-gnu/tc",
	// glibc's iconv modules: nothing in these images converts character sets.
	"usr/lib/x86_64-linux-gnu/gconv", "usr/lib/aarch64-linux-gnu/gconv"}

func main() {
	cache := flag.String("cache", defaultCache(), "folder that keeps downloaded .deb files across runs")
	exclude := flag.String("exclude", "libelogind0", "comma-separated packages never unpacked (alternatives that ship the same sonames)")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: debroot [-cache DIR] ROOTFS PKG...")
		os.Exit(2)
	}
	if err := run(*cache, strings.Split(*exclude, ","), flag.Arg(0), flag.Args()[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "debroot:", err)
		os.Exit(1)
	}
}

func defaultCache() string {
	if d := os.Getenv("HACP_CACHE_DIR"); d != "" {
		return filepath.Join(d, "debs")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "hacp", "debs")
}

func run(cache string, exclude []string, root string, pkgs []string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	cands, err := candidates(pkgs, exclude)
	if err != nil {
		return err
	}
	debs, err := download(cache, cands)
	if err != nil {
		return err
	}
	provider := map[string]string{} // soname -> package
	for _, p := range cands {
		files, err := contents(debs[p])
		if err != nil {
			return err
		}
		for _, f := range files {
			if isLibPath(f) {
				if _, taken := provider[path.Base(f)]; !taken {
					provider[path.Base(f)] = p
				}
			}
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	unpacked := map[string]bool{}
	unpack := func(p string) error {
		if unpacked[p] {
			return nil
		}
		deb, ok := debs[p]
		if !ok {
			return fmt.Errorf("package %s was not downloaded", p)
		}
		unpacked[p] = true
		if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %v: %s", deb, err, out)
		}
		return nil
	}
	for _, p := range pkgs {
		if err := unpack(p); err != nil {
			return err
		}
	}
	for {
		if err := prune(root); err != nil {
			return err
		}
		missing, err := missingSonames(root)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			break
		}
		var unknown []string
		before := map[string]bool{}
		for p := range unpacked {
			before[p] = true
		}
		for _, so := range missing {
			p, ok := provider[so]
			if !ok || before[p] {
				unknown = append(unknown, so)
				continue
			}
			if err := unpack(p); err != nil {
				return err
			}
		}
		if len(unknown) > 0 {
			return fmt.Errorf("no package among the dependencies of %v ships %v", pkgs, unknown)
		}
	}
	return writeManifest(root, unpacked, debs)
}

func prune(root string) error {
	for _, d := range pruned {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	return nil
}

// candidates lists the requested packages and their recursive Depends: the packages that may ship a
// library they need. Only those that do are unpacked.
func candidates(pkgs, exclude []string) ([]string, error) {
	args := append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
		"--no-breaks", "--no-replaces", "--no-enhances"}, pkgs...)
	out, err := exec.Command("apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends %v: %w (run apt-get update first)", pkgs, err)
	}
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[strings.TrimSpace(e)] = true
	}
	set := map[string]bool{}
	for _, p := range pkgs {
		set[p] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == ' ' || l[0] == '<' {
			continue
		}
		if !skip[l] {
			set[l] = true
		}
	}
	var list []string
	for p := range set {
		list = append(list, p)
	}
	sort.Strings(list)
	return list, nil
}

// download fetches the candidate version of each package into cache unless it is already there,
// and returns each package's .deb path.
func download(cache string, pkgs []string) (map[string]string, error) {
	out, err := exec.Command("apt-get", append([]string{"download", "--print-uris"}, pkgs...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-get download --print-uris: %w", err)
	}
	debs := map[string]string{}
	var fetch []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		file := f[1]
		p := file[:strings.IndexByte(file, '_')]
		debs[p] = filepath.Join(cache, file)
		if _, err := os.Stat(debs[p]); errors.Is(err, fs.ErrNotExist) {
			fetch = append(fetch, p)
		}
	}
	if len(fetch) > 0 {
		fmt.Fprintf(os.Stderr, "debroot: downloading %d packages\n", len(fetch))
		cmd := exec.Command("apt-get", append([]string{"download", "-q", "-o", "APT::Sandbox::User=root"}, fetch...)...)
		cmd.Dir = cache
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("apt-get download: %w", err)
		}
	}
	for _, p := range pkgs {
		if _, ok := debs[p]; !ok {
			return nil, fmt.Errorf("apt-get knows no package %s", p)
		}
	}
	return debs, nil
}

// contents lists the paths in a .deb (symlinks by their own name).
func contents(deb string) ([]string, error) {
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb -c %s: %w", deb, err)
	}
	var files []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		files = append(files, strings.TrimPrefix(f[5], "./"))
	}
	return files, nil
}

func isLibPath(p string) bool {
	dir := strings.TrimSuffix(path.Dir(p), "/")
	for _, d := range libDirs {
		if dir == d {
			return strings.Contains(path.Base(p), ".so")
		}
	}
	return false
}

// missingSonames lists the DT_NEEDED entries of the ELF files under root that no library folder
// of root provides.
func missingSonames(root string) ([]string, error) {
	have := map[string]bool{}
	for _, d := range libDirs {
		entries, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range entries {
			have[e.Name()] = true
		}
	}
	need := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil // not an ELF file
		}
		defer f.Close()
		libs, err := f.ImportedLibraries()
		if err != nil {
			return nil
		}
		for _, l := range libs {
			need[l] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for so := range need {
		if !have[so] {
			missing = append(missing, so)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

func writeManifest(root string, unpacked map[string]bool, debs map[string]string) error {
	var lines []string
	for p := range unpacked {
		lines = append(lines, strings.TrimSuffix(filepath.Base(debs[p]), ".deb"))
	}
	sort.Strings(lines)
	dir := filepath.Join(root, "usr/share/hacp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "debs.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
