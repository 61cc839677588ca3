package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// MaxJobVersions is how many versions of a job the store keeps for history
// and revert; older ones are dropped as new ones are written.
const MaxJobVersions = 10

// UpsertJob registers a job in a transaction of its own.
func (s *StateStore) UpsertJob(index uint64, req *structs.JobRegisterRequest) (*structs.JobRegisterResponse, error) {
	txn := s.WriteTxn()
	resp, err := txn.UpsertJob(index, req)
	if err != nil {
		txn.Abort()
		return nil, err
	}
	return resp, txn.Commit()
}

// DeregisterJob stops or purges a job in a transaction of its own.
func (s *StateStore) DeregisterJob(index uint64, req *structs.JobDeregisterRequest) error {
	txn := s.WriteTxn()
	if err := txn.DeregisterJob(index, req); err != nil {
		txn.Abort()
		return err
	}
	return txn.Commit()
}

// UpsertJob registers a job version and its derived objects at index. It
// owns req: the FSM decodes a fresh request per log entry. Conflicts are
// found before anything is written.
func (t *WriteTxn) UpsertJob(index uint64, req *structs.JobRegisterRequest) (*structs.JobRegisterResponse, error) {
	txn := t.at(index)
	job := req.Job
	existing, err := jobByID(txn.txn, nil, job.Namespace, job.ID)
	if err != nil {
		return nil, err
	}
	if req.EnforceIndex {
		var cur uint64
		if existing != nil {
			cur = existing.JobModifyIndex
		}
		if cur != req.JobModifyIndex {
			return nil, fmt.Errorf("%w: job %q has modify index %d, request expected %d",
				structs.ErrIndexConflict, job.ID, cur, req.JobModifyIndex)
		}
	}
	if req.Objects != nil {
		for _, rs := range req.Objects.ReplicaSets {
			if rs.Template == nil {
				rs.Template = job.LookupGroup(rs.Group)
			}
		}
	}
	if err := checkObjects(txn, job, req.Objects); err != nil {
		return nil, err
	}
	if req.Objects != nil {
		if err := txn.assignServiceAddrs(job, req.Objects.Services, req.ServiceCIDR); err != nil {
			return nil, err
		}
	}
	if existing != nil && !existing.Stop && structs.Equal(existing, job) {
		return &structs.JobRegisterResponse{Index: existing.ModifyIndex, JobModifyIndex: existing.JobModifyIndex,
			Version: existing.Version, Unchanged: true}, nil
	}

	job.CreateIndex, job.Version = index, 0
	if existing != nil {
		job.CreateIndex, job.Version = existing.CreateIndex, existing.Version+1
	}
	job.ModifyIndex, job.JobModifyIndex = index, index
	job.Stop, job.Status = false, structs.JobStatusPending
	if err := putJobVersion(txn, job, existing); err != nil {
		return nil, err
	}
	// A new or stopped job has no objects: no stale ones to look for.
	hasObjects := existing != nil && !existing.Stop
	if err := replaceJobObjects(txn, job, req.Objects, hasObjects); err != nil {
		return nil, err
	}
	return &structs.JobRegisterResponse{Index: index, JobModifyIndex: index, Version: job.Version}, nil
}

// DeregisterJob stops a job (a new, stopped version; derived objects go) or
// purges it with its history.
func (t *WriteTxn) DeregisterJob(index uint64, req *structs.JobDeregisterRequest) error {
	txn := t.at(index)
	existing, err := jobByID(txn.txn, nil, req.Namespace, req.JobID)
	if err != nil {
		return err
	}
	if existing == nil {
		return structs.NotFoundError("job", req.JobID)
	}
	if err := replaceJobObjects(txn, existing, nil, true); err != nil {
		return err
	}
	if req.Purge {
		if err := txn.remove(TableJobs, existing); err != nil {
			return err
		}
		// The history goes too, even when only the current version (not
		// in job_versions) existed: queries blocked on it must wake.
		txn.touched[TableJobVersions] = txn.index
		// With the job gone from its table, this lists the older versions.
		versions, err := jobVersions(txn.txn, nil, req.Namespace, req.JobID)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if err := txn.remove(TableJobVersions, v); err != nil {
				return err
			}
		}
		return txn.deleteJobEvents(req.Namespace, req.JobID)
	}
	if !existing.Stop {
		stopped := structs.Copy(existing)
		stopped.Stop, stopped.Status = true, structs.JobStatusDead
		stopped.Version++
		stopped.ModifyIndex, stopped.JobModifyIndex = index, index
		stopped.SubmitTime = req.SubmitTime
		return putJobVersion(txn, stopped, existing)
	}
	return nil
}

// putJobVersion writes a job's new version. The current version lives
// only in the jobs table; the version it replaces moves to job_versions,
// which keeps the MaxJobVersions-1 before it. (Writing every version to
// both tables cost a register one more radix insert on every server.)
func putJobVersion(txn *WriteTxn, job, previous *structs.Job) error {
	if err := txn.upsert(TableJobs, job); err != nil {
		return err
	}
	// The job's history changed even when no older version is written.
	txn.touched[TableJobVersions] = txn.index
	if previous == nil || previous.Version == job.Version {
		return nil
	}
	if err := txn.upsert(TableJobVersions, previous); err != nil {
		return err
	}
	if job.Version < MaxJobVersions {
		return nil
	}
	old, err := txn.txn.First(TableJobVersions, IndexID, job.Namespace, job.ID, job.Version-MaxJobVersions)
	if err != nil || old == nil {
		return err
	}
	return txn.remove(TableJobVersions, old)
}

// jobVersion returns one version of a job, current or kept, or nil.
func jobVersion(txn *memdb.Txn, namespace, id string, version uint64) (*structs.Job, error) {
	cur, err := jobByID(txn, nil, namespace, id)
	if err != nil || (cur != nil && cur.Version == version) {
		return cur, err
	}
	raw, err := txn.First(TableJobVersions, IndexID, namespace, id, versionKey(version))
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*structs.Job), nil
}

// JobByID returns a job or nil.
func (s *StateStore) JobByID(ws memdb.WatchSet, namespace, id string) (*structs.Job, error) {
	return jobByID(s.db.Txn(false), ws, namespace, id)
}

func jobByID(txn *memdb.Txn, ws memdb.WatchSet, namespace, id string) (*structs.Job, error) {
	watchCh, raw, err := txn.FirstWatch(TableJobs, IndexID, namespace, id)
	if err != nil {
		return nil, fmt.Errorf("job lookup %q: %w", id, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Job), nil
}

// Jobs lists the jobs of a namespace ("" or "*": all namespaces).
func (s *StateStore) Jobs(ws memdb.WatchSet, namespace string) ([]*structs.Job, error) {
	return listTable[*structs.Job](s.db.Txn(false), ws, TableJobs, namespace)
}

// JobVersions returns a job's kept versions, newest first.
func (s *StateStore) JobVersions(ws memdb.WatchSet, namespace, id string) ([]*structs.Job, error) {
	return jobVersions(s.db.Txn(false), ws, namespace, id)
}

func jobVersions(txn *memdb.Txn, ws memdb.WatchSet, namespace, id string) ([]*structs.Job, error) {
	cur, err := jobByID(txn, ws, namespace, id)
	if err != nil {
		return nil, err
	}
	it, err := txn.Get(TableJobVersions, IndexID+"_prefix", namespace, id, "")
	if err != nil {
		return nil, fmt.Errorf("job versions %q: %w", id, err)
	}
	ws.Add(it.WatchCh())
	var out []*structs.Job
	for raw := it.Next(); raw != nil; raw = it.Next() {
		j := raw.(*structs.Job)
		// The prefix index also matches longer IDs; a store restored from
		// an older snapshot may hold the current version here too.
		if j.ID == id && (cur == nil || j.Version < cur.Version) {
			out = append(out, j)
		}
	}
	if cur != nil {
		out = append(out, cur)
	}
	for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
		out[i], out[k] = out[k], out[i]
	}
	return out, nil
}
