package state

import (
	"fmt"
	"maps"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// UpsertPods writes the servers' side of pods. For a pod that exists, what
// its client reported (phase, task states, IP) is kept, except that the
// servers may declare a pod lost.
func (t *WriteTxn) UpsertPods(index uint64, pods []*structs.Pod) error {
	t.at(index)
	var groups groupCache
	for _, p := range pods {
		existing, err := podByID(t.txn, nil, p.Namespace, p.ID)
		if err != nil {
			return err
		}
		if p.Template == nil {
			// The log carries no template: point it at the group of the
			// job version the pod runs (or keep the stored one).
			if p.Template, err = t.podTemplate(p, existing, &groups); err != nil {
				return err
			}
		}
		p.CreateIndex = index
		p.Labels = t.labels.intern(p.Labels)
		if existing != nil {
			if maps.Equal(p.Labels, existing.Labels) {
				p.Labels = existing.Labels
			}
			p.CreateIndex = existing.CreateIndex
			p.ClientModifyIndex = existing.ClientModifyIndex
			p.TaskStates, p.IP, p.Healthy, p.Checks = existing.TaskStates, existing.IP, existing.Healthy, existing.Checks
			// The servers set the phase only of pods no client has (never
			// placed) and when they declare a pod lost.
			if p.Phase != structs.PodPhaseLost && existing.NodeID != "" {
				p.Phase = existing.Phase
			}
		}
		if p.Phase == "" {
			p.Phase = structs.PodPhasePending
		}
		p.ModifyIndex = index
		if err := t.upsert(TablePods, p); err != nil {
			return err
		}
	}
	return nil
}

// groupCache remembers the group podTemplate found last: an entry holds
// the pods of a job one after another, so they need one lookup, not one
// each.
type groupCache struct {
	namespace, jobID, group string
	version                 uint64
	g                       *structs.TaskGroup
}

// podTemplate finds the group a pod runs: the stored pod's, or the group
// of its job version.
func (t *WriteTxn) podTemplate(p, existing *structs.Pod, last *groupCache) (*structs.TaskGroup, error) {
	if existing != nil && existing.Template != nil {
		return existing.Template, nil
	}
	if last.g != nil && last.namespace == p.Namespace && last.jobID == p.JobID && last.version == p.JobVersion && last.group == p.Group {
		return last.g, nil
	}
	job, err := jobVersion(t.txn, p.Namespace, p.JobID, p.JobVersion)
	if err != nil {
		return nil, fmt.Errorf("%w: job version of pod %s: %v", ErrWriteFailed, p.ID, err)
	}
	if job == nil {
		return nil, fmt.Errorf("%w: pod %s: job %q version %d not found", structs.ErrBadRequest, p.ID, p.JobID, p.JobVersion)
	}
	g := job.LookupGroup(p.Group)
	if g == nil {
		return nil, fmt.Errorf("%w: pod %s: group %q not in job %q", structs.ErrBadRequest, p.ID, p.Group, p.JobID)
	}
	*last = groupCache{namespace: p.Namespace, jobID: p.JobID, group: p.Group, version: p.JobVersion, g: g}
	return g, nil
}

// UpdatePodStatus records a node's reports on its pods. Reports on pods
// that are gone or placed elsewhere are dropped: they come from a client
// that has not caught up.
func (t *WriteTxn) UpdatePodStatus(index uint64, req *structs.PodStatusRequest) error {
	t.at(index)
	for _, u := range req.Updates {
		existing, err := podByID(t.txn, nil, u.Namespace, u.PodID)
		if err != nil {
			return err
		}
		if existing == nil || existing.NodeID != req.NodeID {
			continue
		}
		p := structs.Copy(existing)
		p.Phase, p.TaskStates, p.Healthy, p.Checks = u.Phase, u.TaskStates, u.Healthy, u.Checks
		if u.IP != "" {
			p.IP = u.IP
		}
		p.ModifyIndex, p.ClientModifyIndex, p.ModifyTime = index, index, req.UpdatedAt
		if err := t.upsert(TablePods, p); err != nil {
			return err
		}
	}
	return nil
}

// DeletePods removes pods (garbage collection of terminal ones).
func (t *WriteTxn) DeletePods(index uint64, ids []structs.NamespacedID) error {
	t.at(index)
	for _, id := range ids {
		existing, err := podByID(t.txn, nil, id.Namespace, id.ID)
		if err != nil {
			return err
		}
		if existing != nil {
			if err := t.remove(TablePods, existing); err != nil {
				return err
			}
		}
	}
	return nil
}

// PodByID returns a pod or nil.
func (s *StateStore) PodByID(ws memdb.WatchSet, namespace, id string) (*structs.Pod, error) {
	return podByID(s.db.Txn(false), ws, namespace, id)
}

func podByID(txn *memdb.Txn, ws memdb.WatchSet, namespace, id string) (*structs.Pod, error) {
	watchCh, raw, err := txn.FirstWatch(TablePods, IndexID, namespace, id)
	if err != nil {
		return nil, fmt.Errorf("pod lookup %q: %w", id, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Pod), nil
}

// PodsByIDPrefix returns the pods of a namespace whose ID starts with
// prefix, so users may give unique prefixes.
func (s *StateStore) PodsByIDPrefix(ws memdb.WatchSet, namespace, prefix string) ([]*structs.Pod, error) {
	it, err := s.db.Txn(false).Get(TablePods, IndexID+"_prefix", namespace, prefix)
	if err != nil {
		return nil, fmt.Errorf("pod prefix %q: %w", prefix, err)
	}
	return collect[*structs.Pod](it, ws), nil
}

// Pods lists the pods of a namespace ("" or "*": all).
func (s *StateStore) Pods(ws memdb.WatchSet, namespace string) ([]*structs.Pod, error) {
	return listTable[*structs.Pod](s.db.Txn(false), ws, TablePods, namespace)
}

// PodsByJob lists a job's pods.
func (s *StateStore) PodsByJob(ws memdb.WatchSet, namespace, jobID string) ([]*structs.Pod, error) {
	return listByJob[*structs.Pod](s.db.Txn(false), ws, TablePods, namespace, jobID)
}

// PodsByNode lists the pods placed on a node.
func (s *StateStore) PodsByNode(ws memdb.WatchSet, nodeID string) ([]*structs.Pod, error) {
	it, err := s.db.Txn(false).Get(TablePods, IndexNode, nodeID)
	if err != nil {
		return nil, fmt.Errorf("pods of node %q: %w", nodeID, err)
	}
	return collect[*structs.Pod](it, ws), nil
}

// JobStatus derives a job's status from its pods: running while any pod
// of it runs, dead once stopped (or, for batch, done) with nothing left
// running, pending otherwise.
func (s *StateStore) JobStatus(ws memdb.WatchSet, job *structs.Job) string {
	pods, err := s.PodsByJob(ws, job.Namespace, job.ID)
	if err != nil {
		return job.Status
	}
	live, running, succeeded := 0, 0, 0
	for _, p := range pods {
		switch {
		case p.Phase == structs.PodPhaseSucceeded:
			succeeded++
		case p.DesiredStatus == structs.PodDesiredRun && !p.Terminal():
			live++
			if p.Phase == structs.PodPhaseRunning {
				running++
			}
		}
	}
	switch {
	case running > 0:
		return structs.JobStatusRunning
	case job.Stop && live == 0:
		return structs.JobStatusDead
	case job.Type == structs.JobTypeBatch && live == 0 && succeeded > 0:
		return structs.JobStatusDead
	}
	return structs.JobStatusPending
}

// UnplacedPods lists the pods that should run and have no node, oldest
// first.
func (s *StateStore) UnplacedPods() ([]*structs.Pod, error) {
	return s.UnplacedPodsCreatedSince(0)
}

// UnplacedPodsCreatedSince lists the pods created after index that should
// run and have no node, oldest first.
func (s *StateStore) UnplacedPodsCreatedSince(index uint64) ([]*structs.Pod, error) {
	return podsAfter(s, IndexUnplaced, index)
}

// PodsReportedSince lists the pods whose client reported on them after
// index.
func (s *StateStore) PodsReportedSince(index uint64) ([]*structs.Pod, error) {
	return podsAfter(s, IndexReported, index)
}

// podsAfter lists the pods of an index keyed by a Raft index, from index+1.
func podsAfter(s *StateStore, indexName string, index uint64) ([]*structs.Pod, error) {
	it, err := s.db.Txn(false).LowerBound(TablePods, indexName, versionKey(index+1))
	if err != nil {
		return nil, fmt.Errorf("pods by %s after %d: %w", indexName, index, err)
	}
	return collect[*structs.Pod](it, nil), nil
}
