package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// UpdateEndpoints writes the endpoints controller's result: upserts keep
// their CreateIndex, deletes of missing rows are no-ops (the controller
// may race a job stop that removed them).
func (t *WriteTxn) UpdateEndpoints(index uint64, req *structs.EndpointsUpdateRequest) error {
	t.at(index)
	for _, e := range req.Upserts {
		if e == nil {
			continue
		}
		existing, err := endpointsOf(t.txn, nil, e.Namespace, e.ID)
		if err != nil {
			return err
		}
		e.CreateIndex = index
		if existing != nil {
			e.CreateIndex = existing.CreateIndex
		}
		e.ModifyIndex = index
		if err := t.upsert(TableEndpoints, e); err != nil {
			return err
		}
	}
	for _, id := range req.Deletes {
		existing, err := endpointsOf(t.txn, nil, id.Namespace, id.ID)
		if err != nil {
			return err
		}
		if existing != nil {
			if err := t.remove(TableEndpoints, existing); err != nil {
				return err
			}
		}
	}
	return nil
}

// EndpointsOf returns a service's endpoints, or nil.
func (s *StateStore) EndpointsOf(ws memdb.WatchSet, namespace, serviceID string) (*structs.Endpoints, error) {
	return endpointsOf(s.db.Txn(false), ws, namespace, serviceID)
}

func endpointsOf(txn *memdb.Txn, ws memdb.WatchSet, namespace, id string) (*structs.Endpoints, error) {
	watchCh, raw, err := txn.FirstWatch(TableEndpoints, IndexID, namespace, id)
	if err != nil {
		return nil, fmt.Errorf("endpoints lookup %s/%s: %w", namespace, id, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Endpoints), nil
}
