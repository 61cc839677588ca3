package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// AllNamespaces, given as a namespace, lists objects of every namespace.
const AllNamespaces = "*"

// replaceJobObjects makes the stored objects of a job equal to objs (nil:
// none); hasObjects says whether the job may have stored objects: ones to
// delete, and ones whose CreateIndex a rewrite keeps. Replica sets of older
// versions stay while the job runs: they are the history a rollout scales
// down and a rollback returns to.
func replaceJobObjects(txn *WriteTxn, job *structs.Job, objs *structs.JobObjects, hasObjects bool) error {
	keep := map[string]map[string]bool{}
	if objs != nil {
		var err error
		objs.Each(func(kind string, obj structs.Object) {
			if err != nil {
				return
			}
			table, _ := TableForKind(kind)
			if keep[table] == nil {
				keep[table] = map[string]bool{}
			}
			keep[table][obj.Metadata().ID] = true
			err = upsertObject(txn, table, job, obj, hasObjects)
		})
		if err != nil {
			return err
		}
	}
	if !hasObjects {
		return nil
	}
	for kind, table := range objectTables {
		if kind == structs.KindReplicaSet && objs != nil {
			continue
		}
		existing, err := listByJob[structs.Object](txn.txn, nil, table, job.Namespace, job.ID)
		if err != nil {
			return err
		}
		for _, obj := range existing {
			if !keep[table][obj.Metadata().ID] {
				if err := txn.remove(table, obj); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkObjects finds, before anything is written, objects that a register
// may not write: one in another namespace than its job, or a service with
// the name of one another job owns. Objects of job-scoped tables cannot
// meet another job's: their keys hold the job.
func checkObjects(txn *WriteTxn, job *structs.Job, objs *structs.JobObjects) error {
	if objs == nil {
		return nil
	}
	var err error
	objs.Each(func(kind string, obj structs.Object) {
		if err != nil {
			return
		}
		m := obj.Metadata()
		if m.Namespace != job.Namespace {
			err = fmt.Errorf("%w: %s %q is in namespace %q, its job in %q", structs.ErrBadRequest, kind, m.ID, m.Namespace, job.Namespace)
			return
		}
		table, _ := TableForKind(kind)
		if jobScopedTables[table] {
			return // keyed by their job: another job's object is another row
		}
		raw, lookupErr := txn.txn.First(table, IndexID, m.Namespace, m.ID)
		if lookupErr != nil {
			err = fmt.Errorf("lookup %s %q: %w", kind, m.ID, lookupErr)
			return
		}
		if owner := jobIDOf(raw); raw != nil && owner != job.ID {
			err = fmt.Errorf("%w: %s %q already belongs to job %q", structs.ErrBadRequest, kind, m.ID, owner)
		}
	})
	return err
}

// upsertObject writes one object of a job; checkObjects has vetted it.
// An object that keeps its ID keeps its CreateIndex; a new or stopped job
// has none stored (mayExist false), which saves a lookup per object.
func upsertObject(txn *WriteTxn, table string, job *structs.Job, obj structs.Object, mayExist bool) error {
	m := obj.Metadata()
	m.CreateIndex = txn.index
	if d, ok := obj.(*structs.Deployment); ok {
		d.StartTime = job.SubmitTime // a new rollout; kept below while its target stays
	}
	if mayExist {
		raw, err := txn.txn.First(table, IndexID, objectKey(table, m.Namespace, job.ID, m.ID)...)
		if err != nil {
			return fmt.Errorf("%w: lookup %s %q: %v", ErrWriteFailed, table, m.ID, err)
		}
		if raw != nil {
			m.CreateIndex = raw.(structs.Object).Metadata().CreateIndex
			if d, ok := obj.(*structs.Deployment); ok {
				KeepRolloutState(d, raw.(*structs.Deployment), job)
			}
		}
	}
	m.ModifyIndex = txn.index
	setJobVersion(obj, job.Version)
	txn.labels.internObject(obj)
	return txn.upsert(table, obj)
}

// KeepRolloutState carries what the controllers own over a register: the
// rollout's state while its target stays, the stable version, and for a
// group with scaling the count the autoscaler or `job scale` set (the
// job's count is then only the first one, as with a Kubernetes HPA).
func KeepRolloutState(d, old *structs.Deployment, job *structs.Job) {
	d.StableReplicaSetID, d.StableVersion = old.StableReplicaSetID, old.StableVersion
	if d.ReplicaSetID == old.ReplicaSetID {
		d.Status, d.StatusDescription = old.Status, old.StatusDescription
		d.Promoted, d.StartTime, d.ProgressTime = old.Promoted, old.StartTime, old.ProgressTime
	}
	if g := job.LookupGroup(d.Group); g != nil && g.Scaling != nil && old.Replicas > 0 {
		d.Replicas = min(max(old.Replicas, g.Scaling.Min), g.Scaling.Max)
	}
}

func setJobVersion(obj structs.Object, v uint64) {
	switch o := obj.(type) {
	case *structs.Deployment:
		o.JobVersion = v
	case *structs.ReplicaSet:
		o.JobVersion = v
	}
}

func jobIDOf(raw any) string {
	switch o := raw.(type) {
	case *structs.Deployment:
		return o.JobID
	case *structs.ReplicaSet:
		return o.JobID
	case *structs.Service:
		return o.JobID
	case *structs.Autoscaler:
		return o.JobID
	case *structs.Ingress:
		return o.JobID
	case *structs.Pod:
		return o.JobID
	}
	return ""
}

// ObjectsByJob returns the objects derived from a job.
func (s *StateStore) ObjectsByJob(ws memdb.WatchSet, namespace, jobID string) (*structs.JobObjects, error) {
	txn := s.db.Txn(false)
	out, err := workloadsByJob(txn, ws, namespace, jobID)
	if err != nil {
		return nil, err
	}
	if out.Services, err = listByJob[*structs.Service](txn, ws, TableServices, namespace, jobID); err != nil {
		return nil, err
	}
	if out.Autoscalers, err = listByJob[*structs.Autoscaler](txn, ws, TableAutoscalers, namespace, jobID); err != nil {
		return nil, err
	}
	if out.Ingresses, err = listByJob[*structs.Ingress](txn, ws, TableIngresses, namespace, jobID); err != nil {
		return nil, err
	}
	return out, nil
}

// WorkloadsByJob returns a job's deployments and replica sets only: what
// the controllers reconcile, without the three lookups of the job's other
// objects that ObjectsByJob makes, for every job of every pass.
func (s *StateStore) WorkloadsByJob(namespace, jobID string) (*structs.JobObjects, error) {
	return workloadsByJob(s.db.Txn(false), nil, namespace, jobID)
}

func workloadsByJob(txn *memdb.Txn, ws memdb.WatchSet, namespace, jobID string) (*structs.JobObjects, error) {
	var out structs.JobObjects
	var err error
	if out.Deployments, err = listByJob[*structs.Deployment](txn, ws, TableDeployments, namespace, jobID); err != nil {
		return nil, err
	}
	if out.ReplicaSets, err = listByJob[*structs.ReplicaSet](txn, ws, TableReplicaSets, namespace, jobID); err != nil {
		return nil, err
	}
	return &out, nil
}

// List returns every object of a table in a namespace (or all).
func List[T any](s *StateStore, ws memdb.WatchSet, table, namespace string) ([]T, error) {
	return listTable[T](s.db.Txn(false), ws, table, namespace)
}

// ServiceByName returns a service or nil.
func (s *StateStore) ServiceByName(ws memdb.WatchSet, namespace, name string) (*structs.Service, error) {
	return serviceByName(s.db.Txn(false), ws, namespace, name)
}

func serviceByName(txn *memdb.Txn, ws memdb.WatchSet, namespace, name string) (*structs.Service, error) {
	watchCh, raw, err := txn.FirstWatch(TableServices, IndexID, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("service lookup %q: %w", name, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Service), nil
}

func listTable[T any](txn *memdb.Txn, ws memdb.WatchSet, table, namespace string) ([]T, error) {
	var it memdb.ResultIterator
	var err error
	if namespace == "" || namespace == AllNamespaces {
		it, err = txn.Get(table, IndexID)
	} else {
		// (namespace, "") as a prefix matches exactly that namespace.
		it, err = txn.Get(table, IndexID+"_prefix", namespace, "")
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", table, err)
	}
	return collect[T](it, ws), nil
}

// objectKey is the ID-index key of an object of a job.
func objectKey(table, namespace, jobID, id string) []any {
	if jobScopedTables[table] {
		return []any{namespace, jobID, id}
	}
	return []any{namespace, id}
}

func listByJob[T any](txn *memdb.Txn, ws memdb.WatchSet, table, namespace, jobID string) ([]T, error) {
	var it memdb.ResultIterator
	var err error
	if jobScopedTables[table] {
		// (namespace, job, "") as a prefix matches exactly that job.
		it, err = txn.Get(table, IndexID+"_prefix", namespace, jobID, "")
	} else {
		it, err = txn.Get(table, IndexJob, namespace, jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s of job %q: %w", table, jobID, err)
	}
	return collect[T](it, ws), nil
}

func collect[T any](it memdb.ResultIterator, ws memdb.WatchSet) []T {
	ws.Add(it.WatchCh())
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out
}
