package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/keepalived"
)

// Names of the objects a VIPGroup owns.
func keepalivedSecretName(vg *hacpv1.VIPGroup) string { return vg.Name + "-keepalived" }
func passwordSecretName(vg *hacpv1.VIPGroup) string   { return vg.Name + "-vrrp-auth" }
func daemonSetName(vg *hacpv1.VIPGroup) string        { return vg.Name + "-keepalived" }

// agentName is also the agents' ServiceAccount: config/agent-policy matches the -hacp-agent suffix.
func agentName(vg *hacpv1.VIPGroup) string { return vg.Name + "-hacp-agent" }

// agentLabels select a VIPGroup's agent Pods. tier=control-plane puts them in the manager's Pod
// cache next to kubeadm's mirror pods.
func agentLabels(vg *hacpv1.VIPGroup) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     contract.AppName,
		"app.kubernetes.io/instance": vg.Name,
		LabelManagedBy:               LabelManagedByValue,
		LabelVIPGroup:                vg.Name,
		contract.LabelTier:           contract.TierControlPlane,
	}
}

func ownedLabels(vg *hacpv1.VIPGroup) map[string]string {
	return map[string]string{LabelManagedBy: LabelManagedByValue, LabelVIPGroup: vg.Name}
}

// nodeMember turns a Node into a member: its InternalIPs of the families the VIPs use. ok is false
// with a reason when the node cannot be a member.
func nodeMember(n *corev1.Node, families map[int]bool) (m keepalived.Member, reason string) {
	m = keepalived.Member{Name: n.Name}
	seen := map[int]bool{}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		f := keepalived.Family(ip)
		if f == 4 {
			ip = ip.Unmap()
		}
		if families[f] && !seen[f] {
			m.Addresses = append(m.Addresses, ip)
			seen[f] = true
		}
	}
	if len(m.Addresses) == 0 {
		return m, fmt.Sprintf("node %s has no InternalIP of the virtual IPs' family", n.Name)
	}
	return m, ""
}

// vipFamilies returns the address families of spec.virtualIPs.
func vipFamilies(spec hacpv1.VIPGroupSpec) map[int]bool {
	out := map[int]bool{}
	for _, v := range spec.VirtualIPs {
		if ip, err := netip.ParseAddr(v); err == nil {
			out[keepalived.Family(ip)] = true
		}
	}
	return out
}

// selectsNode reports whether the VIPGroup's nodeSelector matches the node.
func selectsNode(vg *hacpv1.VIPGroup, n *corev1.Node) bool {
	return labels.SelectorFromSet(vg.Spec.NodeSelector.AsMap()).Matches(labels.Set(n.Labels))
}

// groupMembers computes members from Nodes and static members. Nodes come first by name; a
// static member whose name is also a Node's is dropped (the Node wins). interfaces maps a node to
// the interface its agent reported.
func groupMembers(vg *hacpv1.VIPGroup, nodes []corev1.Node, interfaces map[string]string) (members []keepalived.Member, excluded []string) {
	fams := vipFamilies(vg.Spec)
	names := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		if !selectsNode(vg, n) || !n.DeletionTimestamp.IsZero() {
			continue
		}
		m, reason := nodeMember(n, fams)
		if reason != "" {
			excluded = append(excluded, reason)
			continue
		}
		m.Interface = interfaces[n.Name]
		members = append(members, m)
		names[n.Name] = true
	}
	for _, s := range vg.Spec.StaticMembers {
		if names[s.Name] {
			continue
		}
		ip, err := netip.ParseAddr(s.Address)
		if err != nil {
			excluded = append(excluded, fmt.Sprintf("static member %s: %v", s.Name, err))
			continue
		}
		members = append(members, keepalived.Member{Name: s.Name, Addresses: []netip.Addr{ip}, Static: true})
	}
	slices.SortFunc(members, func(a, b keepalived.Member) int { return strings.Compare(a.Name, b.Name) })
	sort.Strings(excluded)
	return members, excluded
}

// conflict is why a VIPGroup stands down: an older group holds what it claims.
type conflict struct {
	other   *hacpv1.VIPGroup
	reason  string
	message string
}

// conflictWith returns what vg must yield to: an older group (created earlier, ties broken by
// namespace/name) that claims one of vg's virtual IPs (anywhere: two holders of one address break
// it on the whole segment), or vg's VRID on overlapping members. nil when there is none.
func conflictWith(vg *hacpv1.VIPGroup, others []hacpv1.VIPGroup, membersOf func(*hacpv1.VIPGroup) []string) *conflict {
	var mine []string
	for i := range others {
		o := &others[i]
		if o.UID == vg.UID || !o.DeletionTimestamp.IsZero() || !olderThan(o, vg) {
			continue
		}
		for _, v := range vg.Spec.VirtualIPs {
			if slices.Contains(o.Spec.VirtualIPs, v) {
				return &conflict{other: o, reason: hacpv1.ReasonVIPConflict, message: fmt.Sprintf(
					"virtual IP %s is already claimed by VIPGroup %s/%s; both would hold the address: remove it from one of them", v, o.Namespace, o.Name)}
			}
		}
		if o.Spec.VirtualRouterID != vg.Spec.VirtualRouterID {
			continue
		}
		if mine == nil {
			mine = membersOf(vg)
		}
		theirs := membersOf(o)
		for _, m := range mine {
			if slices.Contains(theirs, m) {
				return &conflict{other: o, reason: hacpv1.ReasonVRIDConflict, message: fmt.Sprintf(
					"virtualRouterID %d is already used by VIPGroup %s/%s on the same nodes; choose another VRID (1..255) for one of them", vg.Spec.VirtualRouterID, o.Namespace, o.Name)}
			}
		}
	}
	return nil
}

func olderThan(a, b *hacpv1.VIPGroup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// setHash is the identity of a whole rendered set; a pending member counts with an empty hash.
func setHash(configs map[string]keepalived.NodeConfig, pending []string) string {
	names := slices.Clone(pending)
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\n", n, configs[n].Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// unheardReason says why a node's agent reports cannot be trusted any more, or "": a node whose
// kubelet stopped posting (Ready Unknown) or that is not Ready is gone or cut off, and its agent's
// last report (MASTER, say) may describe a keepalived that died with it.
func unheardReason(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady || c.Status == corev1.ConditionTrue {
			continue
		}
		state := "NotReady"
		if c.Status == corev1.ConditionUnknown {
			state = "not heard from (Ready Unknown)"
		}
		since := ""
		if !c.LastTransitionTime.IsZero() {
			since = " since " + c.LastTransitionTime.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("node %s%s (%s): its agent's last report is not counted", state, since, c.Reason)
	}
	return ""
}

// unheardNodes maps each node whose reports do not count to why (unheardReason).
func unheardNodes(nodes []corev1.Node) map[string]string {
	out := map[string]string{}
	for i := range nodes {
		if why := unheardReason(&nodes[i]); why != "" {
			out[nodes[i].Name] = why
		}
	}
	return out
}

// nodeStatuses merges the plan with agent reports (by node name). A node in unheard shows
// UNKNOWN with the reason and what its agent last said; one in standby (servedByStandby) says that
// its standby runs keepalived.
func nodeStatuses(plan []keepalived.Plan, configs map[string]keepalived.NodeConfig, reports map[string]contract.Report, unheard map[string]string, standby map[string]bool) []hacpv1.VIPGroupNodeStatus {
	out := make([]hacpv1.VIPGroupNodeStatus, 0, len(plan))
	for _, p := range plan {
		ns := hacpv1.VIPGroupNodeStatus{Name: p.Member.Name, Priority: int32(p.Priority), Static: p.Member.Static}
		for _, a := range p.Member.Addresses {
			ns.Addresses = append(ns.Addresses, a.String())
		}
		r, ok := reports[p.Member.Name]
		switch {
		case p.Member.Static:
			ns.State = hacpv1.VRRPStateUnknown
			ns.Message = "static member: no agent reports for it"
		case standby[p.Member.Name]:
			ns.State, ns.Unheard, ns.Standby = hacpv1.VRRPStateUnknown, unheard[p.Member.Name] != "", true
			ns.Message = "the DaemonSet's agent is not running on this node: its standby runs keepalived from the last good config (kubelet reports the standby Pod Ready)"
		case unheard[p.Member.Name] != "":
			ns.State, ns.Unheard = hacpv1.VRRPStateUnknown, true
			ns.ConfigHash = r.ConfigHash
			ns.Message = unheard[p.Member.Name]
			if ok && r.State != "" {
				ns.Message += fmt.Sprintf(" (it said %s)", r.State)
			}
		case !ok:
			ns.State = hacpv1.VRRPStateUnknown
			ns.Message = "no agent Pod on this node yet"
		default:
			ns.State = r.State
			if ns.State == "" {
				ns.State = hacpv1.VRRPStateUnknown
			}
			ns.ConfigHash = r.ConfigHash
			switch {
			case r.ConfigError != "":
				ns.Message = "config rejected: " + r.ConfigError
			case configs[p.Member.Name].Hash == "":
				ns.Message = "waiting for the agent to report its interface"
			case r.ConfigHash != configs[p.Member.Name].Hash:
				ns.Message = "applying the current config"
			}
		}
		out = append(out, ns)
	}
	return out
}

// readyCondition: every agent-run member runs its current config and exactly one member is MASTER.
// With several MASTER claims the master is the latest to claim it: VRRP elects one master at a
// time, so an older claim is a stale report (an agent that died without a word) or a partition,
// and Ready says so either way.
//
// A node in unheard (gone or cut off) counts neither as a master nor as pending: the VIPs are
// served by whoever else is MASTER, and Ready says which nodes are not heard from. So does a node
// whose standby runs keepalived (its state is not known); with no agent MASTER, that standby may
// hold the VIPs, and Ready is Unknown.
func readyCondition(gen int64, nodes []hacpv1.VIPGroupNodeStatus, configs map[string]keepalived.NodeConfig, reports map[string]contract.Report, unheard map[string]string) (metav1.Condition, string) {
	c := metav1.Condition{Type: hacpv1.ConditionReady, ObservedGeneration: gen}
	var masters, pending, gone, onStandby []string
	master := ""
	for _, n := range nodes {
		if n.Standby {
			onStandby = append(onStandby, n.Name)
			continue
		}
		if unheard[n.Name] != "" {
			gone = append(gone, n.Name)
			continue
		}
		if n.State == hacpv1.VRRPStateMaster {
			masters = append(masters, n.Name)
			if master == "" || reports[n.Name].ChangedAt.After(reports[master].ChangedAt) {
				master = n.Name
			}
		}
		if !n.Static && (configs[n.Name].Hash == "" || n.ConfigHash != configs[n.Name].Hash) {
			pending = append(pending, n.Name)
		}
	}
	switch {
	case len(nodes) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNoMembers, "no Node matches spec.nodeSelector and there are no staticMembers"
	case len(masters) > 1:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonMultipleMasters, fmt.Sprintf("%d nodes claim MASTER (%s), %s most recently: VRRP adverts are not getting through between them (a firewall dropping IP protocol 112, or different passwords)", len(masters), strings.Join(masters, ", "), master)
	case len(pending) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNodesPending, fmt.Sprintf("not yet running the current config: %s", strings.Join(pending, ", "))
	case len(masters) == 0 && len(onStandby) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, hacpv1.ReasonStandbyServing, fmt.Sprintf("no agent reports MASTER; the standby of %s runs keepalived in place of the DaemonSet's agent and may hold the virtual IPs, in a state the manager cannot see", strings.Join(onStandby, ", "))
	case len(masters) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, hacpv1.ReasonNoMaster, "no node holds the virtual IPs (all BACKUP or FAULT)"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, fmt.Sprintf("%d nodes run the current config; %s is MASTER", len(nodes)-len(gone)-len(onStandby), master)
	}
	if len(onStandby) > 0 && c.Reason != hacpv1.ReasonStandbyServing {
		c.Message += fmt.Sprintf("; the DaemonSet's agent is not running on %s: its standby runs keepalived from the last good config, which this VIPGroup's changes do not reach", strings.Join(onStandby, ", "))
	}
	if len(gone) > 0 {
		c.Message += fmt.Sprintf("; not heard from (node not Ready, reports not counted): %s", strings.Join(gone, ", "))
	}
	return c, master
}

func setCondition(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}

// desiredKeepalivedSecret holds one key per node with that node's keepalived.conf.
func desiredKeepalivedSecret(vg *hacpv1.VIPGroup, configs map[string]keepalived.NodeConfig) *corev1.Secret {
	data := map[string][]byte{}
	for n, c := range configs {
		data[n] = c.Text
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: keepalivedSecretName(vg), Namespace: vg.Namespace, Labels: ownedLabels(vg)},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

func desiredPasswordSecret(vg *hacpv1.VIPGroup, password string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: passwordSecretName(vg), Namespace: vg.Namespace, Labels: ownedLabels(vg)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte(password)},
	}
}

// desiredAgentRBAC lets a VIPGroup's agents read exactly their config Secret and annotate Pods.
func desiredAgentRBAC(vg *hacpv1.VIPGroup) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	name := agentName(vg)
	meta := metav1.ObjectMeta{Name: name, Namespace: vg.Namespace, Labels: ownedLabels(vg)}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{keepalivedSecretName(vg)}, Verbs: []string{"get", "list", "watch"}},
			// Pods cannot be narrowed by name (DaemonSet Pod names are random); an agent only
			// patches annotations of its own Pod.
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "patch"}},
			// Events on its own Pod (the bootstrap handover).
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: vg.Namespace}},
	}
	return sa, role, rb
}

// desiredDaemonSet runs the agents, with keepalived as their child, on every member node. With
// standby (the VIPGroup serves an HAControlPlane's endpoint), each agent also keeps its node's
// standby: the last good config under contract.StandbyDir and the standby static Pod in kubelet's
// manifest folder, both host folders.
func desiredDaemonSet(vg *hacpv1.VIPGroup, image string, standby bool) *appsv1.DaemonSet {
	run := contract.RunOptions{
		Secret:         keepalivedSecretName(vg),
		HandoverSocket: contract.HandoverSocket(vg.Namespace, vg.Name),
		Interface:      vg.Spec.Interface,
	}
	mounts, volumes := contract.RuntimeMounts(), contract.RuntimeVolumes()
	if standby {
		run.VIPGroup, run.StandbyImage = vg.Name, image
		for _, d := range []struct{ name, path string }{{"standby", contract.StandbyDir}, {"manifests", contract.ManifestDir}} {
			m, v := contract.HostDir(d.name, d.path, corev1.HostPathDirectoryOrCreate, false)
			mounts, volumes = append(mounts, m), append(volumes, v)
		}
	}
	c := contract.Container(image, contract.RunArgs(run), mounts)
	c.Env = contract.DownwardEnv()
	c.ReadinessProbe = contract.ReadinessProbe()
	spec := contract.PodSpec(c, volumes)
	spec.ServiceAccountName = agentName(vg)
	spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	spec.NodeSelector = vg.Spec.NodeSelector.AsMap()
	spec.Tolerations = []corev1.Toleration{
		{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		// Every effect: a node is NotReady (NoSchedule) until its pod network is up, and
		// keepalived, on the host network, must run there before that.
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists},
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: daemonSetName(vg), Namespace: vg.Namespace, Labels: ownedLabels(vg)},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelVIPGroup: vg.Name, "app.kubernetes.io/name": contract.AppName}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: agentLabels(vg)}, Spec: spec},
		},
	}
}
