package state

import (
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// UpdateDeployments applies the deployment controller's decisions. An
// update about a replica set the deployment no longer targets (a newer
// version or a revert was registered meanwhile) is dropped: it was
// decided about a rollout that is over.
func (t *WriteTxn) UpdateDeployments(index uint64, updates []*structs.DeploymentUpdate) error {
	t.at(index)
	for _, u := range updates {
		if u == nil {
			continue
		}
		raw, err := t.txn.First(TableDeployments, IndexID, u.Namespace, u.JobID, u.ID)
		if err != nil {
			return fmt.Errorf("%w: lookup deployment %q: %v", ErrWriteFailed, u.ID, err)
		}
		if raw == nil || raw.(*structs.Deployment).ReplicaSetID != u.ReplicaSetID {
			continue
		}
		d := structs.Copy(raw.(*structs.Deployment))
		if u.Status != "" {
			d.Status, d.StatusDescription = u.Status, u.StatusDescription
		}
		if u.Promote {
			d.Promoted = true
		}
		d.ProgressTime = max(d.ProgressTime, u.ProgressTime)
		if u.StableReplicaSetID != "" {
			d.StableReplicaSetID, d.StableVersion = u.StableReplicaSetID, u.StableVersion
		}
		d.ModifyIndex = index
		if err := t.upsert(TableDeployments, d); err != nil {
			return err
		}
	}
	return nil
}
