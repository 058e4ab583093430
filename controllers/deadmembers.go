package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/etcdprobe"
	"hacp.dev/hacp/internal/quorum"
)

const defaultDeadMemberGrace = 10 * time.Minute

// deadMemberMemory remembers, per HAControlPlane and member, since when a member has been seen
// unhealthy and the last reason reported for it. It lives in the leader's memory: a new leader
// starts the grace period over, which only delays a removal.
type deadMemberMemory struct {
	mu     sync.Mutex
	since  map[string]time.Time
	reason map[string]string
}

func (m *deadMemberMemory) observe(prefix string, members []etcdprobe.Member, now time.Time) map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.since == nil {
		m.since, m.reason = map[string]time.Time{}, map[string]string{}
	}
	out := map[string]time.Time{}
	seen := map[string]bool{}
	for _, mem := range members {
		k := prefix + mem.ID
		seen[k] = true
		if mem.Reachable { // it answers: alive, whether or not it has a leader
			delete(m.since, k)
			delete(m.reason, k)
			continue
		}
		if _, ok := m.since[k]; !ok {
			m.since[k] = now
		}
		out[mem.ID] = m.since[k]
	}
	for k := range m.since {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix && !seen[k] {
			delete(m.since, k)
			delete(m.reason, k)
		}
	}
	return out
}

// changed records reason for the member and says whether it differs from the last one.
func (m *deadMemberMemory) changed(prefix, id, reason string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := prefix + id
	if m.reason[k] == reason {
		return false
	}
	m.reason[k] = reason
	return true
}

// deadMembers decides about every unhealthy etcd member and, with spec.etcd.removeDeadMembers
// Enabled, removes the one the decision names. It returns the status entries and whether a member
// was removed (the caller then reads the membership again, so tolerance and what-if follow at once).
func (r *HAControlPlaneReconciler) deadMembers(ctx context.Context, hcp *hacpv1.HAControlPlane, cluster *etcdprobe.Cluster, endpoints []string) ([]hacpv1.DeadMemberStatus, bool) {
	spec := hcp.Spec.Etcd
	if spec == nil || cluster == nil {
		return nil, false
	}
	prefix := hcp.Namespace + "/" + hcp.Name + "/"
	now := r.Clock.Now()
	since := r.deadMemory.observe(prefix, cluster.Members, now)
	if len(since) == 0 {
		return nil, false
	}
	grace := defaultDeadMemberGrace
	if spec.DeadMemberGracePeriod != nil {
		grace = spec.DeadMemberGracePeriod.Duration
	}
	var cands []quorum.RemovalCandidate
	for _, m := range cluster.Members {
		// Only a member that does not answer can be dead; one that answers without a leader
		// (cut off from its peers) is alive and gets no verdict.
		c := quorum.RemovalCandidate{ID: m.ID, Name: m.Name, Learner: m.Learner, Started: m.Name != "", Healthy: m.Reachable}
		if !m.Reachable {
			c.UnreachableFor = now.Sub(since[m.ID])
			c.NodeExists = m.Name == "" || r.nodeExists(ctx, m.Name)
		}
		cands = append(cands, c)
	}
	enabled := spec.RemoveDeadMembers == hacpv1.DeadMemberRemovalEnabled
	removed := false
	var out []hacpv1.DeadMemberStatus
	for _, v := range quorum.DecideRemoval(cands, grace) {
		t := metav1.NewTime(since[v.ID])
		st := hacpv1.DeadMemberStatus{Name: v.Name, ID: v.ID, UnreachableSince: &t, Decision: "Kept", Reason: v.Reason}
		switch {
		case v.Remove && !enabled:
			st.Reason = fmt.Sprintf("would be removed (%s), but spec.etcd.removeDeadMembers is Disabled: etcdctl member remove %s", v.Reason, v.ID)
		case v.Remove:
			err := r.removeMember(ctx, hcp, endpoints, v.ID)
			if err != nil {
				st.Decision, st.Reason = "Failed", truncate(err.Error(), 1024)
			} else {
				st.Decision, removed = "Removed", true
			}
		}
		if r.deadMemory.changed(prefix, v.ID, st.Decision+st.Reason) {
			typ, reason := corev1.EventTypeNormal, "KeptDeadMember"
			switch st.Decision {
			case "Removed":
				reason = "RemovedDeadMember"
			case "Failed":
				typ, reason = corev1.EventTypeWarning, "DeadMemberRemovalFailed"
			}
			r.Recorder.Eventf(hcp, nil, typ, reason, "EtcdMemberRemoval", "etcd member %s (%s): %s", v.Name, v.ID, st.Reason)
		}
		out = append(out, st)
	}
	if len(out) > 16 {
		out = out[:16]
	}
	return out, removed
}

func (r *HAControlPlaneReconciler) nodeExists(ctx context.Context, name string) bool {
	var n corev1.Node
	err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, &n)
	// Only a definite NotFound counts as deleted: an error reading the Node keeps the member.
	return !apierrors.IsNotFound(err)
}

func (r *HAControlPlaneReconciler) removeMember(ctx context.Context, hcp *hacpv1.HAControlPlane, endpoints []string, id string) error {
	remover, ok := r.Etcd.(etcdprobe.MemberRemover)
	if !ok {
		return fmt.Errorf("this etcd client cannot remove members")
	}
	tlsCfg, err := r.etcdTLS(ctx, hcp)
	if err != nil {
		return err
	}
	return remover.RemoveMember(ctx, endpoints, tlsCfg, id)
}
