package server

import (
	"fmt"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// RevertJob registers an older version of a job's spec as its newest
// version, so the deployments roll back to it through the same bounded
// steps as any rollout (Nomad's revert). With enforceIndex the job must
// still be at jobModifyIndex.
func (s *Server) RevertJob(namespace, id string, version uint64, enforceIndex bool, jobModifyIndex uint64) (*structs.JobRegisterResponse, error) {
	st := s.State()
	current, err := st.JobByID(nil, namespace, id)
	if err != nil {
		return nil, err
	}
	if current == nil {
		return nil, structs.NotFoundError("job", id)
	}
	if current.Version == version {
		return nil, fmt.Errorf("%w: job %q is at version %d already", structs.ErrBadRequest, id, version)
	}
	versions, err := st.JobVersions(nil, namespace, id)
	if err != nil {
		return nil, err
	}
	var old *structs.Job
	for _, v := range versions {
		if v.Version == version {
			old = v
		}
	}
	if old == nil {
		return nil, fmt.Errorf("%w: job %q has no version %d (see mk job history %s)", structs.ErrNotFound, id, version, id)
	}
	if old.Stop {
		return nil, fmt.Errorf("%w: version %d of job %q is a stop; revert to a version that ran", structs.ErrBadRequest, version, id)
	}
	if !enforceIndex {
		// Still check-and-set: a register between the read above and this
		// write must not be overwritten by an older spec unseen.
		enforceIndex, jobModifyIndex = true, current.JobModifyIndex
	}
	resp, err := s.RegisterJob(structs.Copy(old), enforceIndex, jobModifyIndex)
	if err != nil {
		return nil, fmt.Errorf("revert job %q to version %d: %w", id, version, err)
	}
	return resp, nil
}

// PromoteJob promotes the canaries of every deployment of a job that
// waits for it; a job with none is a 400.
func (s *Server) PromoteJob(namespace, id string) (uint64, error) {
	objs, err := s.State().ObjectsByJob(nil, namespace, id)
	if err != nil {
		return 0, err
	}
	req := &structs.DeploymentUpdateRequest{}
	for _, d := range objs.Deployments {
		if d.Strategy != nil && d.Strategy.Canary > 0 && !d.Promoted &&
			d.Status != structs.DeploymentStatusSuccessful && d.Status != structs.DeploymentStatusFailed {
			req.Updates = append(req.Updates, &structs.DeploymentUpdate{Namespace: d.Namespace, ID: d.ID, JobID: d.JobID,
				ReplicaSetID: d.ReplicaSetID, Promote: true, Status: structs.DeploymentStatusRunning, StatusDescription: "promoted",
				ProgressTime: time.Now().UnixNano()})
		}
	}
	if len(req.Updates) == 0 {
		job, err := s.State().JobByID(nil, namespace, id)
		if err == nil && job == nil {
			return 0, structs.NotFoundError("job", id)
		}
		return 0, fmt.Errorf("%w: job %q has no canaries waiting for promotion", structs.ErrBadRequest, id)
	}
	_, index, err := s.apiApply(structs.DeploymentUpdateRequestType, req, namespace, id)
	if err != nil {
		return 0, fmt.Errorf("promote job %q: %w", id, err)
	}
	events := make([]*structs.JobEvent, 0, len(req.Updates))
	for _, u := range req.Updates {
		events = append(events, &structs.JobEvent{Namespace: namespace, JobID: id, Group: groupOfDeployment(objs, u.ID),
			Topic: structs.TopicDeployment, Type: "Promoted", Message: "canaries promoted by a user"})
	}
	if err := s.RecordEvents(events...); err != nil {
		s.logger.Warn("record promotion events", "job", id, "error", err)
	}
	return index, nil
}

func groupOfDeployment(objs *structs.JobObjects, id string) string {
	for _, d := range objs.Deployments {
		if d.ID == id {
			return d.Group
		}
	}
	return ""
}

// applyRollouts writes what a pass decided about deployments: their
// status changes and events, and for a failed rollout with auto_revert a
// register of the last version whose rollout completed.
func (s *Server) applyRollouts(outcomes []*rolloutOutcome) error {
	req := &structs.DeploymentUpdateRequest{}
	var events []*structs.JobEvent
	var reverts []*structs.Deployment
	for _, o := range outcomes {
		if o.plan.update != nil {
			req.Updates = append(req.Updates, o.plan.update)
		}
		events = append(events, o.plan.events...)
		d := o.deployment
		if o.plan.failed {
			s.logger.Info("rollout failed", "job", d.JobID, "group", d.Group, "version", d.JobVersion,
				"reason", o.plan.update.StatusDescription, "auto_revert", d.Strategy != nil && d.Strategy.AutoRevert)
			if d.Strategy != nil && d.Strategy.AutoRevert {
				reverts = append(reverts, d)
			}
		}
	}
	if len(req.Updates) > 0 {
		if _, _, err := s.raftApply(structs.DeploymentUpdateRequestType, req); err != nil {
			return fmt.Errorf("write %d deployment updates: %w", len(req.Updates), err)
		}
	}
	for _, d := range reverts {
		events = append(events, s.autoRevert(d))
	}
	if err := s.RecordEvents(events...); err != nil {
		return err
	}
	return nil
}

// autoRevert rolls a failed deployment's job back to the version of its
// last completed rollout, and says what it did as an event.
func (s *Server) autoRevert(d *structs.Deployment) *structs.JobEvent {
	ev := &structs.JobEvent{Namespace: d.Namespace, JobID: d.JobID, Group: d.Group, Topic: structs.TopicDeployment,
		Type: "AutoRevert", Details: map[string]string{"from_version": fmt.Sprint(d.JobVersion), "to_version": fmt.Sprint(d.StableVersion)}}
	if d.StableReplicaSetID == "" || d.StableReplicaSetID == d.ReplicaSetID {
		ev.Type, ev.Message = "AutoRevertSkipped", "no earlier version completed a rollout"
		return ev
	}
	resp, err := s.RevertJob(d.Namespace, d.JobID, d.StableVersion, false, 0)
	if err != nil {
		ev.Type, ev.Message = "AutoRevertFailed", err.Error()
		s.logger.Warn("auto revert", "job", d.JobID, "to_version", d.StableVersion, "error", err)
		return ev
	}
	ev.Message = fmt.Sprintf("rolled back to version %d (as version %d)", d.StableVersion, resp.Version)
	s.logger.Info("rollout reverted", "job", d.JobID, "to_version", d.StableVersion, "new_version", resp.Version)
	return ev
}
