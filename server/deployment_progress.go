package server

import (
	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// DeploymentsProgress counts the pods of each deployment of a job for
// `job status` and the rollout display of `job run`.
func DeploymentsProgress(st *state.StateStore, ws memdb.WatchSet, namespace, jobID string) ([]*structs.DeploymentProgress, error) {
	objs, err := st.ObjectsByJob(ws, namespace, jobID)
	if err != nil {
		return nil, err
	}
	pods, err := st.PodsByJob(ws, namespace, jobID)
	if err != nil {
		return nil, err
	}
	out := make([]*structs.DeploymentProgress, 0, len(objs.Deployments))
	for _, d := range objs.Deployments {
		dp := &structs.DeploymentProgress{ID: d.ID, Group: d.Group, JobVersion: d.JobVersion, Status: d.Status,
			StatusDescription: d.StatusDescription, Desired: d.Replicas, Promoted: d.Promoted,
			StableVersion: d.StableVersion, ModifyIndex: d.ModifyIndex}
		for _, p := range pods {
			if p.Group != d.Group || !live(p) {
				continue
			}
			if p.OwnerID != d.ReplicaSetID || p.Draining {
				dp.OldPods++
				continue
			}
			if p.NodeID != "" {
				dp.Placed++
			}
			switch {
			case available(p):
				dp.Healthy++
			case p.Phase == structs.PodPhaseRunning || p.Phase == structs.PodPhaseFailed:
				dp.Unhealthy++
			}
		}
		if u := d.Strategy; u != nil && u.Canary > 0 && !d.Promoted && dp.OldPods > 0 {
			dp.Canaries = u.Canary
			dp.RequiresPromotion = !u.AutoPromote
		}
		out = append(out, dp)
	}
	return out, nil
}
