package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/certexpiry"
	"hacp.dev/hacp/internal/contract"
	"hacp.dev/hacp/internal/etcdprobe"
	"hacp.dev/hacp/internal/joinmaterial"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/quorum"
	"hacp.dev/hacp/test/builders"
)

// The condition functions are pure: each table gives what was observed and the condition wanted,
// in the style of Cluster API's status tests.

// wantCondition is what a table row checks of a condition: its message need only contain msg.
type wantCondition struct {
	status metav1.ConditionStatus
	reason string
	msg    string
}

func (w wantCondition) check(t *testing.T, c *metav1.Condition) {
	t.Helper()
	if c == nil {
		t.Fatalf("no condition, want %s %s", w.status, w.reason)
	}
	if c.Status != w.status || c.Reason != w.reason || !strings.Contains(c.Message, w.msg) {
		t.Fatalf("got %s %s %q, want %s %s ...%s...", c.Status, c.Reason, c.Message, w.status, w.reason, w.msg)
	}
}

func TestReadyCondition(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	node := func(name string, state hacpv1.VRRPState, hash string) hacpv1.VIPGroupNodeStatus {
		return hacpv1.VIPGroupNodeStatus{Name: name, State: state, ConfigHash: hash}
	}
	current := map[string]keepalived.NodeConfig{"h1": {Hash: "a"}, "h2": {Hash: "b"}}
	for name, tc := range map[string]struct {
		nodes   []hacpv1.VIPGroupNodeStatus
		configs map[string]keepalived.NodeConfig
		reports map[string]contract.Report
		unheard map[string]string
		want    wantCondition
		master  string
	}{
		"no members": {want: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoMembers, "no Node matches"}},
		"one master, all current": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), node("h2", hacpv1.VRRPStateBackup, "b")}, configs: current,
			want: wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "2 nodes run the current config; h1 is MASTER"}, master: "h1"},
		"two masters: the latest claim is the master": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), node("h2", hacpv1.VRRPStateMaster, "b")}, configs: current,
			reports: map[string]contract.Report{"h1": {ChangedAt: t0}, "h2": {ChangedAt: t0.Add(time.Second)}},
			want:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonMultipleMasters, "2 nodes claim MASTER (h1, h2), h2 most recently"}, master: "h2"},
		"a node runs an old config": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), node("h2", hacpv1.VRRPStateBackup, "old")}, configs: current,
			want: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNodesPending, "not yet running the current config: h2"}, master: "h1"},
		"a node waits for its interface (no config)": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), node("h3", hacpv1.VRRPStateUnknown, "")}, configs: current,
			want: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNodesPending, "h3"}, master: "h1"},
		"no master": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateBackup, "a"), node("h2", hacpv1.VRRPStateFault, "b")}, configs: current,
			want: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoMaster, "all BACKUP or FAULT"}},
		"a static member is never pending": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), {Name: "seed", State: hacpv1.VRRPStateUnknown, Static: true}}, configs: current,
			want: wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "h1 is MASTER"}, master: "h1"},
		"an unheard node counts neither as master nor as pending": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateUnknown, "old"), node("h2", hacpv1.VRRPStateMaster, "b")}, configs: current,
			unheard: map[string]string{"h1": "node NotReady"},
			want:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "1 nodes run the current config; h2 is MASTER; not heard from (node not Ready, reports not counted): h1"}, master: "h2"},
		"a node on its standby, another agent MASTER": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), {Name: "h2", State: hacpv1.VRRPStateUnknown, Standby: true, Unheard: true}}, configs: current,
			unheard: map[string]string{"h2": "its agent has not reported for 20s"},
			want:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "h1 is MASTER; the DaemonSet's agent is not running on h2: its standby runs keepalived"}, master: "h1"},
		"the standby may hold the VIPs: no agent MASTER": {
			nodes: []hacpv1.VIPGroupNodeStatus{{Name: "h1", State: hacpv1.VRRPStateUnknown, Standby: true}, node("h2", hacpv1.VRRPStateBackup, "b")}, configs: current,
			want: wantCondition{metav1.ConditionUnknown, hacpv1.ReasonStandbyServing, "no agent reports MASTER; the standby of h1 runs keepalived"}},
		"a standby node is never pending": {
			nodes: []hacpv1.VIPGroupNodeStatus{node("h1", hacpv1.VRRPStateMaster, "a"), {Name: "h2", State: hacpv1.VRRPStateUnknown, Standby: true}}, configs: current,
			want: wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "1 nodes run the current config; h1 is MASTER"}, master: "h1"},
	} {
		t.Run(name, func(t *testing.T) {
			c, master := readyCondition(7, tc.nodes, tc.configs, tc.reports, tc.unheard)
			tc.want.check(t, &c)
			if master != tc.master || c.Type != hacpv1.ConditionReady || c.ObservedGeneration != 7 {
				t.Fatalf("master %q (want %q), %s gen %d", master, tc.master, c.Type, c.ObservedGeneration)
			}
		})
	}
}

// A node's standby counts as serving only when kubelet says so (its mirror Pod Ready), the Node is
// Ready (a silent kubelet's last word may be old) and the agent has no live report (a handover
// just done: the standby's probe lags the agent's report).
func TestServedByStandby(t *testing.T) {
	t0 := time.Now()
	ready := builders.Node("h1").Ready(corev1.ConditionTrue, "KubeletReady", t0).Obj()
	notReady := builders.Node("h1").Ready(corev1.ConditionUnknown, "NodeStatusUnknown", t0).Obj()
	on := map[string]bool{"h1": true}
	for name, tc := range map[string]struct {
		o    vipGroupObserved
		want bool
	}{
		"no agent Pod, standby Ready":                         {vipGroupObserved{nodes: []corev1.Node{ready}, onStandby: on}, true},
		"an agent Pod that never reported (image not pulled)": {vipGroupObserved{nodes: []corev1.Node{ready}, reports: map[string]contract.Report{"h1": {}}, onStandby: on}, true},
		"agent silent, standby Ready":                         {vipGroupObserved{nodes: []corev1.Node{ready}, heard: map[string]bool{"h1": false}, onStandby: on}, true},
		"agent reporting, standby still Ready":                {vipGroupObserved{nodes: []corev1.Node{ready}, heard: map[string]bool{"h1": true}, onStandby: on}, false},
		"Node not heard from, standby Ready":                  {vipGroupObserved{nodes: []corev1.Node{notReady}, onStandby: on}, false},
		"no agent Pod, standby not Ready (idle or off)":       {vipGroupObserved{nodes: []corev1.Node{ready}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := servedByStandby(tc.o, unheardNodes(tc.o.nodes))["h1"]; got != tc.want {
				t.Fatalf("servedByStandby: %v, want %v", got, tc.want)
			}
		})
	}
}

// The standby's mirror Pod is told apart from the agents' by its component label; its readiness,
// not its existence, says that it serves; a terminating agent's interface still counts.
func TestAgentReportsSplitsStandbys(t *testing.T) {
	pod := func(node string, labels map[string]string, ready corev1.ConditionStatus, iface string, terminating bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: contract.Report{Interface: iface, State: hacpv1.VRRPStateBackup}.Annotations(time.Now())},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
		if terminating {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		}
		return p
	}
	standby := map[string]string{contract.LabelComponent: contract.ComponentStandby}
	reports, interfaces, serving := agentReports([]corev1.Pod{
		pod("h1", nil, corev1.ConditionTrue, "eth0", false),
		pod("h1", standby, corev1.ConditionFalse, "", false),
		pod("h2", standby, corev1.ConditionTrue, "", false),
		pod("h3", nil, corev1.ConditionTrue, "eth1", true),
	})
	if len(reports) != 1 || reports["h1"].Interface != "eth0" {
		t.Errorf("reports %v, want h1's only (a standby's mirror Pod and a terminating agent report nothing)", reports)
	}
	if interfaces["h1"] != "eth0" || interfaces["h3"] != "eth1" || len(interfaces) != 2 {
		t.Errorf("interfaces %v, want h1 eth0 and the terminating h3's eth1", interfaces)
	}
	if !serving["h2"] || serving["h1"] || len(serving) != 1 {
		t.Errorf("standbys serving %v, want h2 only (h1's standby Pod is not Ready)", serving)
	}
}

// desiredVIPGroup's conditions: Conflict, ConfigValid and Ready, with the objects and events that
// go with them.
func TestDesiredVIPGroupConditions(t *testing.T) {
	member := func(name, addr, iface string) keepalived.Member {
		n := builders.Node(name).InternalIP(addr).Obj()
		m, _ := nodeMember(&n, map[int]bool{4: true})
		m.Interface = iface
		return m
	}
	vg := func() *builders.VIPGroupWrapper {
		return builders.VIPGroup("api").VRID(51).VIPs("192.168.1.8").Generation(2).Defaulted()
	}
	members := []keepalived.Member{member("h1", "192.168.1.12", "eth0"), member("h2", "192.168.1.10", "eth0")}
	rendered, err := keepalived.Render(keepalived.Input{Namespace: "kube-system", Name: "api", Spec: vg().Obj().Spec, Members: members, Password: "pw", Options: keepalived.DefaultOptions()})
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string]contract.Report{
		"h1": {State: hacpv1.VRRPStateMaster, ConfigHash: rendered.Configs["h1"].Hash},
		"h2": {State: hacpv1.VRRPStateBackup, ConfigHash: rendered.Configs["h2"].Hash},
	}
	older := builders.VIPGroup("older").Obj()
	inConflict := &conflict{other: older, reason: hacpv1.ReasonVIPConflict, message: "virtual IP 192.168.1.8 is already claimed"}
	for name, tc := range map[string]struct {
		vg                     *hacpv1.VIPGroup
		o                      vipGroupObserved
		conflict, valid, ready wantCondition
		objects                int
		events                 []string
	}{
		"an older group claims the VIP": {vg: vg().Obj(), o: vipGroupObserved{conflict: inConflict},
			conflict: wantCondition{metav1.ConditionTrue, hacpv1.ReasonVIPConflict, "already claimed"},
			ready:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonVIPConflict, "already claimed"}, events: []string{hacpv1.ReasonVIPConflict}},
		"still in conflict: no second event": {vg: vg().Condition(hacpv1.ConditionConflict, metav1.ConditionTrue, hacpv1.ReasonVIPConflict, "").Obj(), o: vipGroupObserved{conflict: inConflict},
			conflict: wantCondition{metav1.ConditionTrue, hacpv1.ReasonVIPConflict, ""},
			ready:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonVIPConflict, ""}},
		"the password cannot be read": {vg: vg().Obj(), o: vipGroupObserved{members: members, passwordErr: errors.New("spec.passwordSecretRef: Secret kube-system/pw not found"), excluded: []string{"node h4 has no InternalIP"}},
			conflict: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoConflict, ""},
			valid:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, "not found (excluded: node h4 has no InternalIP)"},
			ready:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonInvalidSpec, "the last good config keeps running"}},
		"a node's interface is not known yet": {vg: vg().Obj(), o: vipGroupObserved{members: []keepalived.Member{members[0], member("h2", "192.168.1.10", "")}, password: "pw", reports: reports},
			conflict: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoConflict, ""},
			valid:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonRendered, "rendered configs for 2 members"},
			ready:    wantCondition{metav1.ConditionFalse, hacpv1.ReasonNodesPending, "h2"}, objects: 5, events: []string{"MasterElected"}},
		"every member runs its config": {vg: vg().Obj(), o: vipGroupObserved{members: members, password: "pw", reports: reports},
			conflict: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoConflict, ""},
			valid:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonRendered, "rendered configs for 2 members"},
			ready:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, "h1 is MASTER"}, objects: 5, events: []string{"MasterElected"}},
		"the master is unchanged: no event": {vg: vg().Master("h1").Obj(), o: vipGroupObserved{members: members, password: "pw", reports: reports},
			conflict: wantCondition{metav1.ConditionFalse, hacpv1.ReasonNoConflict, ""},
			valid:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonRendered, ""},
			ready:    wantCondition{metav1.ConditionTrue, hacpv1.ReasonAllNodesCurrent, ""}, objects: 5},
	} {
		t.Run(name, func(t *testing.T) {
			d := desiredVIPGroup(tc.vg, tc.o, keepalived.DefaultOptions(), "hacp:test")
			tc.conflict.check(t, meta.FindStatusCondition(d.status.Conditions, hacpv1.ConditionConflict))
			if tc.valid.reason != "" {
				tc.valid.check(t, meta.FindStatusCondition(d.status.Conditions, hacpv1.ConditionConfigValid))
			}
			tc.ready.check(t, meta.FindStatusCondition(d.status.Conditions, hacpv1.ConditionReady))
			var events []string
			for _, e := range d.events {
				events = append(events, e.reason)
			}
			if len(d.objects) != tc.objects || strings.Join(events, ",") != strings.Join(tc.events, ",") {
				t.Fatalf("%d objects, events %v; want %d, %v", len(d.objects), events, tc.objects, tc.events)
			}
		})
	}
}

func TestAvailableCondition(t *testing.T) {
	api := func(ready ...bool) []hacpv1.MemberStatus {
		var out []hacpv1.MemberStatus
		for _, r := range ready {
			out = append(out, hacpv1.MemberStatus{APIServerReady: r})
		}
		return out
	}
	quorate, lost := quorum.Result{Voters: 3, Healthy: 3, Quorum: 2, FailureTolerance: 1}, quorum.Result{Voters: 3, Healthy: 1, Quorum: 2, FailureTolerance: -1}
	vipReady := metav1.Condition{Status: metav1.ConditionTrue}
	vipDown := metav1.Condition{Status: metav1.ConditionFalse, Message: "VIPGroup api: NoMaster"}
	for name, tc := range map[string]struct {
		res     quorum.Result
		members []hacpv1.MemberStatus
		vip     metav1.Condition
		hasVIP  bool
		want    wantCondition
	}{
		"etcd lost quorum":           {lost, api(true, true), vipReady, true, wantCondition{metav1.ConditionFalse, hacpv1.ReasonNotServing, "etcd has lost quorum"}},
		"no API server ready":        {quorate, api(false, false), vipReady, true, wantCondition{metav1.ConditionFalse, hacpv1.ReasonNotServing, "no control-plane node has a ready API server"}},
		"the VIP is not ready":       {quorate, api(true), vipDown, true, wantCondition{metav1.ConditionFalse, hacpv1.ReasonNotServing, "the endpoint's VIP is not ready: VIPGroup api: NoMaster"}},
		"serving through the VIP":    {quorate, api(true, false, true), vipReady, true, wantCondition{metav1.ConditionTrue, hacpv1.ReasonServing, "2 API servers ready, etcd quorate, VIP held by h1"}},
		"serving without a VIPGroup": {quorate, api(true), vipDown, false, wantCondition{metav1.ConditionTrue, hacpv1.ReasonServing, "1 API servers ready, etcd quorate"}},
		"no etcd voters seen":        {quorum.Result{FailureTolerance: -1}, api(true), vipReady, false, wantCondition{metav1.ConditionTrue, hacpv1.ReasonServing, ""}},
	} {
		t.Run(name, func(t *testing.T) {
			c := availableCondition(4, tc.res, tc.members, "h1", tc.vip, tc.hasVIP)
			tc.want.check(t, &c)
		})
	}
}

func TestQuorumHealthyCondition(t *testing.T) {
	nodes := []corev1.Node{
		builders.Node("h1").InternalIP("192.168.1.12").Ready(corev1.ConditionTrue, "KubeletReady", time.Time{}).Obj(),
		builders.Node("h2").InternalIP("192.168.1.10").Ready(corev1.ConditionTrue, "KubeletReady", time.Time{}).Obj(),
		builders.Node("h3").InternalIP("192.168.1.9").Ready(corev1.ConditionTrue, "KubeletReady", time.Time{}).Obj(),
	}
	etcd := func(healthy ...bool) *etcdprobe.Cluster {
		c := &etcdprobe.Cluster{}
		for i, h := range healthy {
			name := nodes[i].Name
			c.Members = append(c.Members, etcdprobe.Member{ID: name + "-id", Name: name, Healthy: h, Reachable: h})
		}
		return c
	}
	mirror := func(ready ...bool) map[string]*corev1.Pod {
		out := map[string]*corev1.Pod{}
		for i, r := range ready {
			out[nodes[i].Name] = builders.MirrorPod("etcd", nodes[i].Name).Ready(r).Obj()
		}
		return out
	}
	withAlarm := etcd(true, true, true)
	withAlarm.Alarms = []string{"NOSPACE"}
	for name, tc := range map[string]struct {
		o    observed
		want wantCondition
	}{
		"no etcd member found": {observed{nodes: nodes}, wantCondition{metav1.ConditionUnknown, hacpv1.ReasonNoEtcdMembers, "neither etcd access nor kubeadm etcd mirror pods"}},
		"etcd unreachable, no mirror pods": {observed{nodes: nodes, etcdErr: errors.New("connection refused")},
			wantCondition{metav1.ConditionUnknown, hacpv1.ReasonNoEtcdMembers, "etcd unreachable (connection refused)"}},
		"three healthy voters": {observed{nodes: nodes, etcd: etcd(true, true, true)}, wantCondition{metav1.ConditionTrue, hacpv1.ReasonQuorate, "3 of 3 etcd voters healthy, quorum 2 (from the etcd member list): 1 more may fail"}},
		"two of three":         {observed{nodes: nodes, etcd: etcd(true, true, false)}, wantCondition{metav1.ConditionFalse, hacpv1.ReasonAtRisk, "one more failure loses quorum"}},
		"one of three":         {observed{nodes: nodes, etcd: etcd(true, false, false)}, wantCondition{metav1.ConditionFalse, hacpv1.ReasonQuorumLost, "quorum is lost"}},
		"etcd alarms are said": {observed{nodes: nodes, etcd: withAlarm}, wantCondition{metav1.ConditionTrue, hacpv1.ReasonQuorate, "etcd alarms: NOSPACE"}},
		"from kubeadm's mirror pods": {observed{nodes: nodes, etcdPods: mirror(true, true, true)},
			wantCondition{metav1.ConditionTrue, hacpv1.ReasonQuorate, "(from kubeadm's etcd mirror pods (no etcd access configured"}},
	} {
		t.Run(name, func(t *testing.T) {
			var st hacpv1.HAControlPlaneStatus
			c, _, _ := quorumStatus(5, tc.o, &st)
			tc.want.check(t, &c)
			if c.Type != hacpv1.ConditionQuorumHealthy || c.ObservedGeneration != 5 {
				t.Fatalf("%s gen %d", c.Type, c.ObservedGeneration)
			}
		})
	}
}

func TestCertificatesCondition(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	served := func(component certexpiry.Component, notAfter time.Time) certexpiry.Observed {
		return certexpiry.Observed{Target: certexpiry.Target{Node: "h1", Component: component}, NotAfter: notAfter, Certified: true}
	}
	renewed := served(certexpiry.APIServer, now.Add(60*day))
	onDisk := now.Add(365 * day)
	renewed.OnDisk = &onDisk
	unreadable := certexpiry.Observed{Target: certexpiry.Target{Node: "h1", Component: certexpiry.Kubelet}, Err: errors.New("connection refused")}
	for name, tc := range map[string]struct {
		obs  []certexpiry.Observed
		want wantCondition
	}{
		"nothing read":           {nil, wantCondition{metav1.ConditionUnknown, hacpv1.ReasonNotObserved, "no certificate was read"}},
		"nothing readable":       {[]certexpiry.Observed{unreadable}, wantCondition{metav1.ConditionUnknown, hacpv1.ReasonNotObserved, "no control-plane certificate could be read: kubelet on h1"}},
		"all valid":              {[]certexpiry.Observed{served(certexpiry.APIServer, now.Add(300*day))}, wantCondition{metav1.ConditionTrue, hacpv1.ReasonCertificatesValid, "no certificate expires within 720h0m0s"}},
		"valid, some unread":     {[]certexpiry.Observed{served(certexpiry.APIServer, now.Add(300*day)), unreadable}, wantCondition{metav1.ConditionTrue, hacpv1.ReasonCertificatesValid, "some could not be read"}},
		"one expires soon":       {[]certexpiry.Observed{served(certexpiry.APIServer, now.Add(300*day)), served(certexpiry.EtcdPeer, now.Add(3*day))}, wantCondition{metav1.ConditionFalse, hacpv1.ReasonExpiringSoon, "etcd-peer on h1 expires"}},
		"one expired":            {[]certexpiry.Observed{served(certexpiry.EtcdServer, now.Add(-day)), served(certexpiry.EtcdPeer, now.Add(3*day))}, wantCondition{metav1.ConditionFalse, hacpv1.ReasonExpired, "etcd-server on h1 expired"}},
		"renewed but not served": {[]certexpiry.Observed{renewed}, wantCondition{metav1.ConditionFalse, hacpv1.ReasonRenewedNotServed, "restart the static Pod"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, c := certificatesStatus(6, now, hacpv1.CertificatesSpec{}, tc.obs)
			tc.want.check(t, &c)
		})
	}
}

func TestJoinMaterialReadyCondition(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	token := &joinmaterial.Token{ID: "abcdef", Secret: "0123456789abcdef", Expires: now.Add(24 * time.Hour)}
	plan := joinmaterial.Plan{Publish: token, Next: now.Add(22 * time.Hour)}
	workers := joinPublished{token: token, secretName: "kubernetes-join", expires: token.Expires}
	withKey := workers
	withKey.certKey, withKey.certsExpire, withKey.expires = "key", now.Add(2*time.Hour), now.Add(2*time.Hour)
	foreign := joinObserved{now: now, certsReason: hacpv1.ReasonCertificatesForeign, certsProblem: "kube-system/kubeadm-certs was uploaded by someone else"}
	hcp := func(prevReason string) *hacpv1.HAControlPlane {
		h := builders.HAControlPlane("kubernetes", "192.168.1.8:6443").Obj()
		if prevReason != "" {
			h.Status.Conditions = []metav1.Condition{{Type: hacpv1.ConditionJoinMaterialReady, Status: metav1.ConditionTrue, Reason: prevReason}}
		}
		return h
	}
	for name, tc := range map[string]struct {
		hcp   *hacpv1.HAControlPlane
		o     joinObserved
		m     joinPublished
		want  wantCondition
		wait  time.Duration
		event string
	}{
		"workers' command only": {hcp(""), joinObserved{now: now}, workers,
			wantCondition{metav1.ConditionTrue, hacpv1.ReasonValid, "worker join command in Secret kube-system/kubernetes-join, valid until 2026-12-01T12:00:00Z"}, 22 * time.Hour, ""},
		"with the control-plane command": {hcp(""), joinObserved{now: now}, withKey,
			wantCondition{metav1.ConditionTrue, hacpv1.ReasonValid, "control-plane join command in Secret kube-system/kubernetes-join-control-plane, valid until 2026-11-30T14:00:00Z"}, 22 * time.Hour, ""},
		"no certificate key: the pki directory is not mounted": {hcp(""), joinObserved{now: now, certsReason: hacpv1.ReasonTokensOnly, certsProblem: "certificate key unavailable"}, workers,
			wantCondition{metav1.ConditionTrue, hacpv1.ReasonTokensOnly, "; certificate key unavailable"}, 5 * time.Minute, ""},
		"someone else's upload, newly":   {hcp(hacpv1.ReasonValid), foreign, workers, wantCondition{metav1.ConditionTrue, hacpv1.ReasonCertificatesForeign, "uploaded by someone else"}, 5 * time.Minute, hacpv1.ReasonCertificatesForeign},
		"someone else's upload, already": {hcp(hacpv1.ReasonCertificatesForeign), foreign, workers, wantCondition{metav1.ConditionTrue, hacpv1.ReasonCertificatesForeign, ""}, 5 * time.Minute, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var st hacpv1.HAControlPlaneStatus
			wait, event := joinMaterialReady(tc.hcp, &st, tc.o, plan, tc.m)
			tc.want.check(t, meta.FindStatusCondition(st.Conditions, hacpv1.ConditionJoinMaterialReady))
			gotEvent := ""
			if event != nil {
				gotEvent = event.reason
			}
			if wait != tc.wait || gotEvent != tc.event || st.JoinMaterial == nil || st.JoinMaterial.TokenID != "abcdef" {
				t.Fatalf("wait %s, event %q, joinMaterial %+v; want %s, %q", wait, gotEvent, st.JoinMaterial, tc.wait, tc.event)
			}
		})
	}
}
