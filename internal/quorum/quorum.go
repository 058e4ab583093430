package quorum

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Member is one control-plane node and/or etcd member, joined by name.
type Member struct {
	Name string
	// HasNode: a control-plane Node of this name exists. NodeReady is its Ready condition.
	HasNode   bool
	NodeReady bool
	// APIServerReady: the node's kube-apiserver is ready (mirror pod readiness).
	APIServerReady bool
	// HasEtcd: an etcd member of this name exists. Learners do not vote.
	HasEtcd     bool
	EtcdID      string
	Learner     bool
	EtcdHealthy bool
	// Keepalived: the node runs keepalived for the control-plane endpoint's VIPGroup.
	// VIPEligible: it could hold the VIP now (running, not in FAULT).
	Keepalived  bool
	VIPEligible bool
}

// Impact is something a failure set breaks.
type Impact string

const (
	EtcdQuorum Impact = "EtcdQuorum"
	VIP        Impact = "VIP"
	APIServer  Impact = "APIServer"
)

// Options describe the VIP side of the analysis.
type Options struct {
	// HasVIPGroup: a VIPGroup serves the endpoint; without one the VIP is not analysed.
	HasVIPGroup bool
	// QuorumAware: keepalived's check is the API server's readiness and a failing check means
	// FAULT, so a node whose API server cannot serve never holds the VIP.
	QuorumAware bool
	// VIP is the address named in messages.
	VIP string
}

// Result is the quorum arithmetic.
type Result struct {
	Voters, Healthy, Quorum, FailureTolerance int
	// Problems name inconsistencies that change the arithmetic.
	Problems []Problem
}

// Problem is an inconsistency about one member.
type Problem struct {
	Member  string
	Message string
}

// Evaluate computes voters, quorum and failure tolerance.
func Evaluate(members []Member) Result {
	var r Result
	for _, m := range members {
		if m.HasEtcd && !m.Learner {
			r.Voters++
			if m.EtcdHealthy {
				r.Healthy++
			}
		}
		switch {
		case m.HasEtcd && !m.HasNode:
			r.Problems = append(r.Problems, Problem{m.Name, fmt.Sprintf("etcd member %s has no control-plane Node: if it is gone for good, remove it (etcdctl member remove %s), it counts towards the quorum", m.Name, orUnknown(m.EtcdID))})
		case m.HasNode && !m.HasEtcd:
			r.Problems = append(r.Problems, Problem{m.Name, fmt.Sprintf("control-plane Node %s has no etcd member", m.Name)})
		}
	}
	if r.Voters > 0 {
		r.Quorum = r.Voters/2 + 1
	}
	r.FailureTolerance = r.Healthy - r.Quorum
	sort.Slice(r.Problems, func(i, j int) bool { return r.Problems[i].Member < r.Problems[j].Member })
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "<member ID>"
	}
	return s
}

// Outcome is what one failure set breaks.
type Outcome struct {
	Failed   []string
	Survives bool
	Breaks   []Impact
	Message  string
}

// Assess says what happens if the named members fail (on top of the current state).
func Assess(members []Member, failed []string, opts Options) Outcome {
	down := map[string]bool{}
	for _, f := range failed {
		down[f] = true
	}
	voters, healthyLeft := 0, 0
	var apiLeft, vipLeft, keepalivedLeft []string
	for _, m := range members {
		if m.HasEtcd && !m.Learner {
			voters++
			if m.EtcdHealthy && !down[m.Name] {
				healthyLeft++
			}
		}
	}
	quorum := voters/2 + 1
	quorate := voters > 0 && healthyLeft >= quorum
	for _, m := range members {
		if down[m.Name] {
			continue
		}
		serves := m.APIServerReady && (quorate || voters == 0)
		if serves {
			apiLeft = append(apiLeft, m.Name)
		}
		if m.Keepalived {
			keepalivedLeft = append(keepalivedLeft, m.Name)
			if m.VIPEligible && (!opts.QuorumAware || serves) {
				vipLeft = append(vipLeft, m.Name)
			}
		}
	}
	o := Outcome{Failed: slices.Clone(failed)}
	var parts []string
	if voters > 0 && !quorate {
		o.Breaks = append(o.Breaks, EtcdQuorum)
		parts = append(parts, fmt.Sprintf("etcd quorum lost (%d of %d voters left, %d needed)", healthyLeft, voters, quorum))
	}
	if len(apiLeft) == 0 {
		o.Breaks = append(o.Breaks, APIServer)
		if voters > 0 && !quorate {
			parts = append(parts, "the API stops serving (no etcd quorum)")
		} else {
			parts = append(parts, "the API stops serving (no ready API server left)")
		}
	}
	if opts.HasVIPGroup && len(vipLeft) == 0 {
		o.Breaks = append(o.Breaks, VIP)
		vip := "the VIP"
		if opts.VIP != "" {
			vip = "VIP " + opts.VIP
		}
		switch {
		case len(keepalivedLeft) == 0:
			parts = append(parts, fmt.Sprintf("%s is gone (no keepalived node left)", vip))
		case opts.QuorumAware:
			verb := "sees"
			if len(keepalivedLeft) > 1 {
				verb = "see"
			}
			parts = append(parts, fmt.Sprintf("%s is dropped (keepalived on %s %s no ready API server)", vip, joinNames(keepalivedLeft), verb))
		default:
			parts = append(parts, fmt.Sprintf("%s is gone (no healthy keepalived node left)", vip))
		}
	}
	o.Survives = len(o.Breaks) == 0
	who := "if " + joinNames(failed) + " fail"
	if len(failed) == 1 {
		who = "if " + failed[0] + " fails"
	}
	if o.Survives {
		detail := []string{}
		if voters > 0 {
			detail = append(detail, fmt.Sprintf("etcd keeps %d of %d voters, %d needed", healthyLeft, voters, quorum))
		}
		if opts.HasVIPGroup {
			detail = append(detail, "the VIP stays on "+joinOr(vipLeft))
		}
		o.Message = who + ": the control plane keeps working (" + strings.Join(detail, "; ") + ")"
	} else {
		o.Message = who + ": " + strings.Join(parts, "; ")
	}
	return o
}

func joinNames(ns []string) string {
	switch len(ns) {
	case 0:
		return "nothing"
	case 1:
		return ns[0]
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " and " + ns[len(ns)-1]
}

func joinOr(ns []string) string {
	switch len(ns) {
	case 0:
		return "no node"
	case 1:
		return ns[0]
	}
	return strings.Join(ns[:len(ns)-1], ", ") + " or " + ns[len(ns)-1]
}

// Analysis is what the status carries: every single failure and the minimal breaking sets.
type Analysis struct {
	Singles []Outcome
	// Minimal are failure sets that break something while none of their proper subsets does.
	Minimal []Outcome
	// Truncated is set when the search was bounded (large control planes).
	Truncated bool
	Note      string
}

// WhatIf analyses failure sets of the members. With at most exhaustiveUpTo members every subset
// is examined; above that, sets up to tolerance+1 members. At most limit minimal sets are kept.
func WhatIf(members []Member, opts Options, limit int) Analysis {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
	}
	sort.Strings(names)
	var a Analysis
	for _, n := range names {
		a.Singles = append(a.Singles, Assess(members, []string{n}, opts))
	}
	const exhaustiveUpTo = 7
	maxSize := len(names)
	if len(names) > exhaustiveUpTo {
		maxSize = max(1, Evaluate(members).FailureTolerance+1)
		a.Truncated = true
		a.Note = fmt.Sprintf("%d members: failure sets of up to %d nodes examined", len(names), maxSize)
	}
	var breaking [][]string
	for size := 1; size <= maxSize; size++ {
		forEachSubset(names, size, func(set []string) bool {
			for _, b := range breaking {
				if isSubset(b, set) {
					return true // not minimal
				}
			}
			o := Assess(members, set, opts)
			if !o.Survives {
				breaking = append(breaking, slices.Clone(set))
				if len(a.Minimal) < limit {
					a.Minimal = append(a.Minimal, o)
				} else if !a.Truncated || !strings.Contains(a.Note, "kept") {
					a.Truncated = true
					a.Note = strings.TrimPrefix(a.Note+fmt.Sprintf("; only the first %d minimal failure sets kept", limit), "; ")
				}
			}
			return true
		})
	}
	return a
}

func forEachSubset(names []string, size int, fn func([]string) bool) {
	idx := make([]int, size)
	for i := range idx {
		idx[i] = i
	}
	set := make([]string, size)
	for {
		for i, j := range idx {
			set[i] = names[j]
		}
		if !fn(set) {
			return
		}
		i := size - 1
		for i >= 0 && idx[i] == len(names)-size+i {
			i--
		}
		if i < 0 {
			return
		}
		idx[i]++
		for j := i + 1; j < size; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

func isSubset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}
