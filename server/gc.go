package server

import (
	"fmt"
	"sort"
	"time"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// gcPolicy is what the leader's garbage collector keeps.
type gcPolicy struct {
	// threshold: stopped, terminal pods older than this are collected.
	threshold time.Duration
	// keep is how many of an owner's collectable pods are kept, the
	// newest, for debugging before the threshold; older ones go once
	// their failure no longer counts toward the owner's replacement
	// backoff (rescheduleWindow).
	keep int
	// force (mk system gc) collects every collectable pod at once.
	force bool
}

// gcPlan is what one collection deletes and changes.
type gcPlan struct {
	pods        []structs.NamespacedID
	replicaSets []structs.ReplicaSetUpdate
}

// collectable: a pod the collector may delete: terminal and stopped, and
// not the record of a batch group that still runs (its failed and
// succeeded pods are how the group counts completions and gives up; the
// give-up rule bounds them to count × (maxBatchReschedules+1)).
func (v *view) collectable(p *structs.Pod) bool {
	if !p.Terminal() || p.DesiredStatus != structs.PodDesiredStop {
		return false
	}
	job := v.jobByKey[key(p.Namespace, p.JobID)]
	return job == nil || job.Stop || job.Type != structs.JobTypeBatch
}

// collectPods picks the pods to delete at now, owner by owner.
func (v *view) collectPods(pol gcPolicy, now int64) []structs.NamespacedID {
	owners := make([]string, 0, len(v.podsByOwner))
	for k := range v.podsByOwner {
		owners = append(owners, k)
	}
	sort.Strings(owners)
	var out []structs.NamespacedID
	for _, k := range owners {
		var cands []*structs.Pod
		for _, p := range v.podsByOwner[k] {
			if v.collectable(p) {
				cands = append(cands, p)
			}
		}
		sort.Slice(cands, func(i, j int) bool { // newest first
			if cands[i].ModifyTime != cands[j].ModifyTime {
				return cands[i].ModifyTime > cands[j].ModifyTime
			}
			return cands[i].ID < cands[j].ID
		})
		for i, p := range cands {
			age := time.Duration(now - p.ModifyTime)
			if pol.force || age >= pol.threshold || (i >= pol.keep && age >= rescheduleWindow) {
				out = append(out, structs.NamespacedID{Namespace: p.Namespace, ID: p.ID})
			}
		}
	}
	return out
}

// collectReplicaSets scales the replica sets of a running service job's
// older versions to zero and deletes those whose job version is no
// longer kept (state.MaxJobVersions) once no pod of theirs runs. The
// current replica set of a deployment is never touched.
func (v *view) collectReplicaSets() []structs.ReplicaSetUpdate {
	var out []structs.ReplicaSetUpdate
	for _, job := range v.jobs {
		objs := v.objects[key(job.Namespace, job.ID)]
		if job.Stop || objs == nil {
			continue
		}
		current := map[string]bool{}
		for _, d := range objs.Deployments {
			current[d.ReplicaSetID] = true
		}
		for _, rs := range objs.ReplicaSets {
			if current[rs.ID] {
				continue
			}
			u := structs.ReplicaSetUpdate{Namespace: rs.Namespace, JobID: rs.JobID, ID: rs.ID}
			switch {
			case rs.JobVersion+state.MaxJobVersions <= job.Version && len(v.livePods(rs.Namespace, rs.ID)) == 0:
				u.Delete = true
			case rs.Replicas == 0:
				continue
			}
			out = append(out, u)
		}
	}
	return out
}

// gcPolicy is the collector's policy from the server's config.
func (s *Server) gcPolicy(force bool) gcPolicy {
	return gcPolicy{threshold: s.config.PodGCThreshold, keep: s.config.PodGCKeep, force: force}
}

// collectGarbage deletes the pods and replica sets the policy lets go,
// through Raft.
func (s *Server) collectGarbage(v *view, pol gcPolicy, now int64) error {
	plan := gcPlan{pods: v.collectPods(pol, now), replicaSets: v.collectReplicaSets()}
	if len(plan.replicaSets) > 0 {
		req := &structs.ReplicaSetsUpdateRequest{Updates: plan.replicaSets}
		if _, _, err := s.raftApply(structs.ReplicaSetsUpdateRequestType, req); err != nil {
			return fmt.Errorf("gc replica sets: %w", err)
		}
	}
	if len(plan.pods) == 0 {
		return nil
	}
	if _, _, err := s.raftApply(structs.PodsDeleteRequestType, &structs.PodsDeleteRequest{Pods: plan.pods}); err != nil {
		return fmt.Errorf("gc pods: %w", err)
	}
	podsCollected.Add(float64(len(plan.pods)))
	return nil
}

// ForceGC runs a collection now (mk system gc): every terminal, stopped
// pod goes whatever its age, and old replica sets are collected. It runs
// on the leader only.
func (s *Server) ForceGC() error {
	if !s.IsLeader() {
		return fmt.Errorf("system gc: %w", structs.ErrNoLeader)
	}
	st := s.State()
	v, err := loadView(st, &scope{full: true})
	if err != nil {
		return fmt.Errorf("system gc: %w", err)
	}
	return s.collectGarbage(v, s.gcPolicy(true), time.Now().UnixNano())
}
