package state

import (
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// ScaleJob sets the count of a service group: its deployment's Replicas,
// which the controllers keep the current replica set at. The job keeps its
// version (a count is not a spec change, as with Kubernetes' scale
// subresource). A group with a scaling block takes only a count within
// its [min, max]. It returns the count the group had.
func (t *WriteTxn) ScaleJob(index uint64, req *structs.JobScaleRequest) (int, error) {
	t.at(index)
	ns := structs.NamespaceOrDefault(req.Namespace)
	job, err := jobByID(t.txn, nil, ns, req.JobID)
	if err != nil {
		return 0, err
	}
	if job == nil {
		return 0, structs.NotFoundError("job", req.JobID)
	}
	if job.Stop {
		return 0, structs.NewBadRequest("job %q is stopped: run it again to scale it", req.JobID)
	}
	if job.Type != structs.JobTypeService {
		return 0, structs.NewBadRequest("job %q is a %s job: only groups of service jobs scale", req.JobID, job.Type)
	}
	g := job.LookupGroup(req.Group)
	if g == nil {
		return 0, fmt.Errorf("group %q of job %q %w", req.Group, req.JobID, structs.ErrNotFound)
	}
	if req.Count < 0 {
		return 0, structs.NewBadRequest("count of group %q must be >= 0, got %d", req.Group, req.Count)
	}
	if s := g.Scaling; s != nil && (req.Count < s.Min || req.Count > s.Max) {
		return 0, structs.NewBadRequest("count of group %q must be between its scaling.min (%d) and scaling.max (%d), got %d",
			req.Group, s.Min, s.Max, req.Count)
	}
	deps, err := listByJob[*structs.Deployment](t.txn, nil, TableDeployments, ns, req.JobID)
	if err != nil {
		return 0, err
	}
	for _, d := range deps {
		if d.Group != req.Group {
			continue
		}
		previous := d.Replicas
		if previous == req.Count {
			return previous, nil
		}
		cp := structs.Copy(d)
		cp.Replicas, cp.ModifyIndex = req.Count, index
		return previous, t.upsert(TableDeployments, cp)
	}
	return 0, fmt.Errorf("deployment of group %q of job %q %w", req.Group, req.JobID, structs.ErrNotFound)
}
