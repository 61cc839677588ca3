package server

import (
	"fmt"
	"sort"
	"time"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// prepareJob canonicalizes and validates a submitted job, clears the fields
// only servers set, and translates it into its objects.
func prepareJob(job *structs.Job) (*structs.JobObjects, error) {
	if job == nil {
		return nil, &structs.ValidationError{Field: "Job", Msg: "is required"}
	}
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if err := job.Supported(); err != nil {
		return nil, err
	}
	job.Version, job.Stop, job.Status = 0, false, ""
	job.CreateIndex, job.ModifyIndex, job.JobModifyIndex = 0, 0, 0
	return jobspecs.Translate(job)
}

// RegisterJob validates a job and writes it with its objects through Raft.
// It must run on the leader.
func (s *Server) RegisterJob(job *structs.Job, enforceIndex bool, jobModifyIndex uint64) (*structs.JobRegisterResponse, error) {
	objs, err := prepareJob(job)
	if err != nil {
		return nil, err
	}
	// Chosen here, before proposing: the FSM never reads the clock.
	job.SubmitTime = time.Now().UnixNano()
	// The log carries each group once: the FSM points a replica set's
	// template back at its group of the job.
	for _, rs := range objs.ReplicaSets {
		rs.Template = nil
	}
	req := &structs.JobRegisterRequest{Job: job, Objects: objs, EnforceIndex: enforceIndex, JobModifyIndex: jobModifyIndex,
		ServiceCIDR: s.config.ServiceCIDR}
	resp, _, err := s.apiApply(structs.JobRegisterRequestType, req, job.Namespace, job.ID)
	if err != nil {
		return nil, fmt.Errorf("register job %q: %w", job.ID, err)
	}
	return resp.(*structs.JobRegisterResponse), nil
}

// DeregisterJob stops a job, or purges it with its history.
func (s *Server) DeregisterJob(namespace, id string, purge bool) (uint64, error) {
	req := &structs.JobDeregisterRequest{Namespace: namespace, JobID: id, Purge: purge, SubmitTime: time.Now().UnixNano()}
	_, index, err := s.apiApply(structs.JobDeregisterRequestType, req, namespace, id)
	if err != nil {
		return 0, fmt.Errorf("deregister job %q: %w", id, err)
	}
	return index, nil
}

// PlanJob returns what registering job would change, reading one
// snapshot of the local state: the diff of the job and its objects, and
// the scheduler's dry run of its pods (dryRun). It writes nothing.
func (s *Server) PlanJob(job *structs.Job) (*structs.JobPlan, error) {
	objs, err := prepareJob(job)
	if err != nil {
		return nil, err
	}
	st := s.State().View()
	existing, err := st.JobByID(nil, job.Namespace, job.ID)
	if err != nil {
		return nil, err
	}
	current := &structs.JobObjects{}
	plan := &structs.JobPlan{Type: structs.DiffAdded}
	if existing != nil {
		plan.JobModifyIndex = existing.JobModifyIndex
		plan.JobFields = structs.Diff(existing, job)
		plan.Type = structs.DiffEdited
		if len(plan.JobFields) == 0 && !existing.Stop {
			plan.Type = structs.DiffNone
		}
		if current, err = st.ObjectsByJob(nil, job.Namespace, job.ID); err != nil {
			return nil, err
		}
		keepControllerState(current, objs, job)
	}
	plan.Objects = diffObjects(current, objs)
	if err := dryRun(st, job, objs, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// keepControllerState gives the deployments a run would write what the run
// keeps of the stored ones (a count the autoscaler or `job scale` set, the
// rollout's state), which is no change the run would make.
func keepControllerState(current, desired *structs.JobObjects, job *structs.Job) {
	for _, d := range desired.Deployments {
		for _, old := range current.Deployments {
			if old.ID == d.ID {
				state.KeepRolloutState(d, old, job)
			}
		}
	}
}

// diffObjects compares the stored objects of a job with those a run would
// write. Old replica sets are kept by a run (they are the rollout history),
// so they never show as deleted.
func diffObjects(current, desired *structs.JobObjects) []*structs.ObjectDiff {
	type key struct{ kind, id string }
	have := map[key]structs.Object{}
	current.Each(func(kind string, o structs.Object) { have[key{kind, o.Metadata().ID}] = o })
	var out []*structs.ObjectDiff
	seen := map[key]bool{}
	desired.Each(func(kind string, o structs.Object) {
		k := key{kind, o.Metadata().ID}
		seen[k] = true
		d := &structs.ObjectDiff{Kind: kind, ID: o.Metadata().ID, Type: structs.DiffAdded}
		if old, ok := have[k]; ok {
			d.Fields = structs.Diff(old, o)
			d.Type = structs.DiffEdited
			if len(d.Fields) == 0 {
				d.Type = structs.DiffNone
			}
		}
		out = append(out, d)
	})
	for k := range have {
		if !seen[k] && k.kind != structs.KindReplicaSet {
			out = append(out, &structs.ObjectDiff{Kind: k.kind, ID: k.id, Type: structs.DiffDeleted})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}
