package state

import (
	"fmt"
	"io"
	"sort"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// SnapshotFormatVersion is written at the head of every snapshot. Bump it
// when the encoding changes incompatibly; Restore refuses newer versions.
//
// 2: job_versions no longer holds a job's current version (it is only in
// jobs). A server of format 1 would miss those versions, so it must refuse
// these snapshots; version 1 snapshots restore here (the current version
// found in both tables is listed once).
//
// 3: deployments, replica sets, autoscalers and ingresses are keyed by
// (namespace, job, ID), so two jobs may own objects of one name. A server
// of format 2 keys them by (namespace, ID) and would keep one of the two,
// so it must refuse these snapshots; format 1 and 2 snapshots restore here.
//
// 4: deployments carry the group's count (Replicas), which controllers
// read instead of the current replica set's; the table job_events is new.
// A format 3 server would not know the table, so it must refuse these
// snapshots; format 3 snapshots restore here with each deployment's count
// taken from its current replica set (upgradeDeployments).
const SnapshotFormatVersion = 4

type snapshotHeader struct {
	Version int
	Tables  []string
}

type tableHeader struct {
	Table string
	Count int
}

// Snapshot is a point-in-time, immutable view of the store. It is cheap to
// take and may be persisted while the FSM keeps applying.
type Snapshot struct {
	snap *memdb.MemDB
}

// Snapshot returns an immutable view of the store.
func (s *StateStore) Snapshot() *Snapshot { return &Snapshot{snap: s.db.Snapshot()} }

// Persist writes every table of the schema to w: a header, then per table
// its name, its count and its objects, in msgpack.
func (sn *Snapshot) Persist(w io.Writer) error { return sn.persist(w, SnapshotFormatVersion) }

// persist writes the snapshot with a given format version in its header
// (tests write older formats).
func (sn *Snapshot) persist(w io.Writer, version int) error {
	tables := make([]string, 0, len(tableTypes))
	for name := range schema().Tables {
		if _, ok := tableTypes[name]; !ok {
			return fmt.Errorf("snapshot: table %q has no registered type", name)
		}
		tables = append(tables, name)
	}
	sort.Strings(tables)
	enc := structs.NewEncoder(w)
	if err := enc.Encode(&snapshotHeader{Version: version, Tables: tables}); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	txn := sn.snap.Txn(false)
	for _, table := range tables {
		var rows []any
		it, err := txn.Get(table, IndexID)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			rows = append(rows, raw)
		}
		if err := enc.Encode(&tableHeader{Table: table, Count: len(rows)}); err != nil {
			return fmt.Errorf("snapshot %s: %w", table, err)
		}
		for _, row := range rows {
			if err := enc.Encode(row); err != nil {
				return fmt.Errorf("snapshot %s row: %w", table, err)
			}
		}
	}
	return nil
}

// Restore reads a snapshot written by Persist into a new store.
func Restore(r io.Reader) (*StateStore, error) {
	s, err := NewStateStore()
	if err != nil {
		return nil, err
	}
	dec := structs.NewDecoder(r)
	var head snapshotHeader
	if err := dec.Decode(&head); err != nil {
		return nil, fmt.Errorf("restore header: %w", err)
	}
	if head.Version < 1 || head.Version > SnapshotFormatVersion {
		return nil, fmt.Errorf("restore: snapshot format version %d is not supported (want <= %d)", head.Version, SnapshotFormatVersion)
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	for range head.Tables {
		var th tableHeader
		if err := dec.Decode(&th); err != nil {
			return nil, fmt.Errorf("restore table header: %w", err)
		}
		newRow, ok := tableTypes[th.Table]
		if !ok {
			return nil, fmt.Errorf("restore: unknown table %q", th.Table)
		}
		for i := 0; i < th.Count; i++ {
			row := newRow()
			if err := dec.Decode(row); err != nil {
				return nil, fmt.Errorf("restore %s row %d: %w", th.Table, i, err)
			}
			if err := txn.Insert(th.Table, row); err != nil {
				return nil, fmt.Errorf("restore %s row %d: %w", th.Table, i, err)
			}
		}
	}
	if head.Version < 4 {
		if err := upgradeDeployments(txn); err != nil {
			return nil, err
		}
	}
	txn.Commit()
	return s, nil
}

// upgradeDeployments gives the deployments of a snapshot older than
// format 4 the count their current replica set held.
func upgradeDeployments(txn *memdb.Txn) error {
	it, err := txn.Get(TableDeployments, IndexID)
	if err != nil {
		return fmt.Errorf("restore: list deployments: %w", err)
	}
	var deployments []*structs.Deployment
	for raw := it.Next(); raw != nil; raw = it.Next() {
		deployments = append(deployments, raw.(*structs.Deployment))
	}
	for _, d := range deployments {
		raw, err := txn.First(TableReplicaSets, IndexID, d.Namespace, d.JobID, d.ReplicaSetID)
		if err != nil {
			return fmt.Errorf("restore: replica set of deployment %s: %w", d.ID, err)
		}
		if raw == nil || d.Replicas != 0 {
			continue
		}
		cp := structs.Copy(d)
		cp.Replicas = raw.(*structs.ReplicaSet).Replicas
		if err := txn.Insert(TableDeployments, cp); err != nil {
			return fmt.Errorf("restore: deployment %s: %w", d.ID, err)
		}
	}
	return nil
}
