package state

import (
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// UpdateReplicaSets applies the garbage collector's changes to replica
// sets: a new stored count, or deletion. A replica set that is gone is
// skipped, and so is one a deployment has made current again since the
// leader decided (a revert): the current replica set is never changed
// here.
func (t *WriteTxn) UpdateReplicaSets(index uint64, updates []structs.ReplicaSetUpdate) error {
	t.at(index)
	for _, u := range updates {
		raw, err := t.txn.First(TableReplicaSets, IndexID, u.Namespace, u.JobID, u.ID)
		if err != nil {
			return fmt.Errorf("%w: lookup replica set %q: %v", ErrWriteFailed, u.ID, err)
		}
		if raw == nil {
			continue
		}
		current, err := t.isCurrentReplicaSet(u)
		if err != nil || current {
			return err
		}
		rs := raw.(*structs.ReplicaSet)
		if u.Delete {
			if err := t.remove(TableReplicaSets, rs); err != nil {
				return err
			}
			continue
		}
		cp := structs.Copy(rs)
		cp.Replicas, cp.ModifyIndex = u.Replicas, index
		if err := t.upsert(TableReplicaSets, cp); err != nil {
			return err
		}
	}
	return nil
}

// isCurrentReplicaSet reports whether a deployment of the job points at
// the replica set.
func (t *WriteTxn) isCurrentReplicaSet(u structs.ReplicaSetUpdate) (bool, error) {
	deps, err := listByJob[*structs.Deployment](t.txn, nil, TableDeployments, u.Namespace, u.JobID)
	if err != nil {
		return false, err
	}
	for _, d := range deps {
		if d.ReplicaSetID == u.ID {
			return true, nil
		}
	}
	return false, nil
}
