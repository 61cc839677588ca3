package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// TableJobEvents holds each job's last controller decisions, keyed by
// (namespace, job ID).
const TableJobEvents = "job_events"

func jobEventsTable() *memdb.TableSchema {
	return &memdb.TableSchema{Name: TableJobEvents, Indexes: map[string]*memdb.IndexSchema{
		IndexID: {Name: IndexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
			&memdb.StringFieldIndex{Field: "Namespace"}, &memdb.StringFieldIndex{Field: "JobID"},
		}}},
	}}
}

// RecordJobEvents appends controllers' decisions to their jobs' rows,
// keeping the newest structs.JobEventsKept of each; every event gets the
// entry's index.
func (t *WriteTxn) RecordJobEvents(index uint64, events []*structs.JobEvent) error {
	t.at(index)
	rows := map[string]*structs.JobEvents{}
	var order []string
	var recorded []Change // for the event stream, once written
	for _, e := range events {
		if e == nil || e.JobID == "" {
			continue
		}
		e.Namespace = structs.NamespaceOrDefault(e.Namespace)
		e.Index = index
		k := e.Namespace + "/" + e.JobID
		row := rows[k]
		if row == nil {
			existing, err := jobEvents(t.txn, nil, e.Namespace, e.JobID)
			if err != nil {
				return err
			}
			row = &structs.JobEvents{Namespace: e.Namespace, JobID: e.JobID}
			if existing != nil {
				row.Events = append(row.Events, existing.Events...)
			}
			rows[k] = row
			order = append(order, k)
		}
		row.Events = append(row.Events, e)
		recorded = append(recorded, Change{Table: TableJobEvents, Index: index, Object: e})
	}
	for _, k := range order {
		row := rows[k]
		if n := len(row.Events); n > structs.JobEventsKept {
			row.Events = row.Events[n-structs.JobEventsKept:]
		}
		if err := t.upsert(TableJobEvents, row); err != nil {
			return err
		}
	}
	t.changes = append(t.changes, recorded...)
	return nil
}

// deleteJobEvents drops a purged job's decisions.
func (t *WriteTxn) deleteJobEvents(namespace, jobID string) error {
	existing, err := jobEvents(t.txn, nil, namespace, jobID)
	if err != nil || existing == nil {
		return err
	}
	return t.remove(TableJobEvents, existing)
}

// JobEvents returns a job's last decisions, oldest first (nil: none).
func (s *StateStore) JobEvents(ws memdb.WatchSet, namespace, jobID string) ([]*structs.JobEvent, error) {
	row, err := jobEvents(s.db.Txn(false), ws, namespace, jobID)
	if err != nil || row == nil {
		return nil, err
	}
	return row.Events, nil
}

func jobEvents(txn *memdb.Txn, ws memdb.WatchSet, namespace, jobID string) (*structs.JobEvents, error) {
	watchCh, raw, err := txn.FirstWatch(TableJobEvents, IndexID, namespace, jobID)
	if err != nil {
		return nil, fmt.Errorf("job events lookup %s/%s: %w", namespace, jobID, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.JobEvents), nil
}
