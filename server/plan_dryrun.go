package server

import (
	"fmt"
	"time"

	"github.com/mk-orchestrator/mk/server/scheduler"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// dryRun is the scheduler's part of a job plan, as Nomad's: on a read-only
// snapshot of the state, it runs what the leader's controllers would run
// after the job is registered (reconcileOwners, then scheduler.Place on
// the new and waiting pods) and records the outcome per group in plan. It
// writes nothing: the pods it makes are thrown away.
//
// job is the planned job (prepared: canonical, valid) and objs its
// objects. Replacements are not held back by a backoff: the dry run says
// what the controllers do once none holds. Pods that would be stopped do
// not count against their nodes: the pods placed in their stead are
// placed once they end.
func dryRun(st *state.StateStore, job *structs.Job, objs *structs.JobObjects, plan *structs.JobPlan) error {
	k := key(job.Namespace, job.ID)
	v, err := loadView(st, &scope{jobs: map[string]bool{k: true}})
	if err != nil {
		return fmt.Errorf("dry run of job %q: %w", job.ID, err)
	}
	v.podIDs = newPodIDs()
	v.wholeRollout = true
	v.jobs = []*structs.Job{job}
	v.jobByKey[k] = job
	v.objects[k] = plannedObjects(v.objects[k], objs)
	changes := newPodChanges(time.Now().UnixNano())
	v.reconcileOwners(changes)

	stopping := map[string]bool{}
	var toPlace []*structs.Pod
	for _, p := range changes.list() {
		if p.DesiredStatus == structs.PodDesiredStop || p.Draining {
			stopping[p.ID] = true
		} else if p.CreateIndex == 0 && live(p) {
			toPlace = append(toPlace, p) // new
		}
	}
	for _, p := range v.pods {
		if !stopping[p.ID] && live(p) && p.NodeID == "" {
			toPlace = append(toPlace, p) // waiting for room: tried again
		}
	}
	plan.Placements = groupSummaries(job, v.pods, stopping, toPlace)
	for _, o := range v.rollouts {
		if s := plan.Placements[o.deployment.Group]; s != nil {
			s.Canaries = o.plan.canaries
		}
	}
	res := scheduler.Place(withoutPods{schedulerState{st}, stopping}, toPlace, job)
	plan.FailedPlacements = failuresByGroup(toPlace, res.Failures)
	return nil
}

// groupSummaries counts per group the pods to place, those stopping and
// the others that stay; a stop and a placement in one group is a
// replacement. Every group of job has an entry.
func groupSummaries(job *structs.Job, existing []*structs.Pod, stopping map[string]bool, toPlace []*structs.Pod) map[string]*structs.PlanGroupSummary {
	out := map[string]*structs.PlanGroupSummary{}
	group := func(name string) *structs.PlanGroupSummary {
		if out[name] == nil {
			out[name] = &structs.PlanGroupSummary{}
		}
		return out[name]
	}
	for _, g := range job.Groups {
		group(g.Name)
	}
	for _, p := range existing {
		switch {
		case stopping[p.ID]:
			group(p.Group).Stop++
		case live(p) && p.NodeID != "":
			group(p.Group).Keep++
		}
	}
	for _, p := range toPlace {
		group(p.Group).Place++
	}
	for _, s := range out {
		s.Replace = min(s.Place, s.Stop)
		s.Place, s.Stop = s.Place-s.Replace, s.Stop-s.Replace
	}
	return out
}

// plannedObjects is what the job's objects would be after the register:
// its new deployments and replica sets, and the replica sets of earlier
// versions, which a register keeps (the rollout history).
func plannedObjects(current, planned *structs.JobObjects) *structs.JobObjects {
	out := &structs.JobObjects{}
	if planned != nil {
		out.Deployments = planned.Deployments
		out.ReplicaSets = append(out.ReplicaSets, planned.ReplicaSets...)
	}
	if current == nil {
		return out
	}
	have := map[string]bool{}
	for _, rs := range out.ReplicaSets {
		have[rs.ID] = true
	}
	for _, rs := range current.ReplicaSets {
		if !have[rs.ID] {
			out.ReplicaSets = append(out.ReplicaSets, rs)
		}
	}
	return out
}

// failuresByGroup counts the failed placements of each group, with their
// reasons, each once; nil when every pod found a node.
func failuresByGroup(pods []*structs.Pod, failures []scheduler.Failure) map[string]*structs.PlanGroupFailure {
	if len(failures) == 0 {
		return nil
	}
	groupOf := make(map[string]string, len(pods))
	for _, p := range pods {
		groupOf[p.ID] = p.Group
	}
	out := map[string]*structs.PlanGroupFailure{}
	seen := map[string]bool{}
	for _, f := range failures {
		g := groupOf[f.PodID]
		gf := out[g]
		if gf == nil {
			gf = &structs.PlanGroupFailure{}
			out[g] = gf
		}
		gf.Failed++
		if !seen[g+"\x00"+f.Reason] {
			seen[g+"\x00"+f.Reason] = true
			gf.Reasons = append(gf.Reasons, f.Reason)
		}
	}
	return out
}

// withoutPods is a scheduler state that leaves some pods out: those the
// dry run would stop.
type withoutPods struct {
	base scheduler.State
	drop map[string]bool
}

func (w withoutPods) Nodes() []*structs.Node { return w.base.Nodes() }

func (w withoutPods) PodsByNode(nodeID string) []*structs.Pod {
	pods := w.base.PodsByNode(nodeID)
	if len(w.drop) == 0 {
		return pods
	}
	out := make([]*structs.Pod, 0, len(pods))
	for _, p := range pods {
		if !w.drop[p.ID] {
			out = append(out, p)
		}
	}
	return out
}
