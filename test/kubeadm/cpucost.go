package kubeadm

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuShare is how much CPU one consumer on the lab's nodes used over a window, in cores.
type cpuShare struct {
	name  string
	cores float64
}

// cpuCounters reads, for every node, the CPU time (ns) of each Pod's cgroup under the node's
// kubelet cgroupRoot (exec probes and health-check scripts run there too, so nothing that
// exited is lost), and of each process in the node's own cgroup (containerd, its shims, kubelet),
// with its reaped children. Keys name the consumer: "h1 pod kube-apiserver-h1", "h2 kubelet".
func cpuCounters(lab *Lab) map[string]int64 {
	out := map[string]int64{}
	for _, n := range lab.Nodes() {
		podNames := podNamesByUID(filepath.Join(n.Dir, "var-log", "pods"))
		root := filepath.Join("/sys/fs/cgroup/cpuacct", n.CgroupRoot)
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || !strings.HasPrefix(d.Name(), "pod") {
				return nil
			}
			uid := strings.ReplaceAll(strings.TrimPrefix(d.Name(), "pod"), "_", "-")
			name := podNames[uid]
			if name == "" {
				name = d.Name()
			}
			out[n.Name+" pod "+name] += readInt(filepath.Join(path, "cpuacct.usage"))
			return filepath.SkipDir
		})
		for _, pid := range cgroupProcs(n.sysCgroup()) {
			comm, ticks, ok := procCPU(strconv.Itoa(pid))
			if ok {
				out[n.Name+" "+comm] += ticks * int64(time.Second) / 100 // USER_HZ
			}
		}
	}
	return out
}

// podNamesByUID maps Pod UIDs to names from kubelet's log folders (<namespace>_<name>_<uid>).
func podNamesByUID(dir string) map[string]string {
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if len(parts) == 3 {
			out[parts[2]] = parts[1]
		}
	}
	return out
}

// procCPU returns a process's command name and its CPU ticks: its own and its reaped children's.
func procCPU(pid string) (string, int64, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(s[end+1:])
	// After the command: state(3) ... utime(14) stime(15) cutime(16) cstime(17), 1-based in stat.
	if len(f) < 15 {
		return "", 0, false
	}
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return s[open+1 : end], ticks, true
}

func readInt(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return v
}

// cpuShares turns two cpuCounters readings d apart into cores per consumer, largest first; the
// same consumer on different nodes is summed when byKind (node names and Pod suffixes dropped).
func cpuShares(before, after map[string]int64, d time.Duration, byKind bool) []cpuShare {
	sum := map[string]int64{}
	for k, v := range after {
		used := v - before[k] // a consumer that appeared in the window counts from 0
		if used <= 0 {
			continue
		}
		if byKind {
			k = consumerKind(k)
		}
		sum[k] += used
	}
	out := make([]cpuShare, 0, len(sum))
	for k, v := range sum {
		out = append(out, cpuShare{name: k, cores: float64(v) / float64(d.Nanoseconds())})
	}
	slices.SortFunc(out, func(a, b cpuShare) int {
		return cmp.Or(cmp.Compare(b.cores, a.cores), cmp.Compare(a.name, b.name))
	})
	return out
}

// consumerKind drops the node from a consumer's key and the node or ReplicaSet suffix from a Pod's
// name: "h2 pod kube-apiserver-h2" and "h1 pod kube-apiserver-h1" are both "pod kube-apiserver".
func consumerKind(key string) string {
	_, rest, _ := strings.Cut(key, " ")
	name, isPod := strings.CutPrefix(rest, "pod ")
	if !isPod {
		return rest
	}
	parts := strings.Split(name, "-")
	for len(parts) > 1 {
		last := parts[len(parts)-1]
		if !isNodeName(last) && !isGeneratedSuffix(last) {
			break
		}
		parts = parts[:len(parts)-1]
	}
	return "pod " + strings.Join(parts, "-")
}

func isNodeName(s string) bool { return len(s) == 2 && s[0] == 'h' && s[1] >= '1' && s[1] <= '9' }

// isGeneratedSuffix: a DaemonSet's or ReplicaSet's random suffix ("5hnx6", "596c47bd54"), drawn
// from apimachinery's alphabet without vowels, so no English word ("proxy") matches.
func isGeneratedSuffix(s string) bool {
	if len(s) < 5 || len(s) > 10 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", c) {
			return false
		}
	}
	return true
}

// formatShares prints the first n shares, one per line: "  0.123 cores  pod kube-apiserver".
func formatShares(shares []cpuShare, n int) string {
	var b strings.Builder
	for i, s := range shares {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "  %5.3f cores  %s\n", s.cores, s.name)
	}
	return b.String()
}
