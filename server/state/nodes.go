package state

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// UpsertNode registers a node or refreshes what its client reports about
// itself. What operators and the leader own (eligibility, drain, pod CIDR,
// create index) survives a re-registration. A node without a pod CIDR
// gets a /24 of podCIDRPool ("": none).
func (t *WriteTxn) UpsertNode(index uint64, node *structs.Node, podCIDRPool string) error {
	t.at(index)
	existing, err := nodeByID(t.txn, nil, node.ID)
	if err != nil {
		return err
	}
	node.Namespace = ""
	node.CreateIndex = index
	if node.Eligibility == "" {
		node.Eligibility = structs.NodeEligible
	}
	if existing != nil {
		node.CreateIndex = existing.CreateIndex
		node.Eligibility, node.Drain = existing.Eligibility, existing.Drain
		if node.PodCIDR == "" {
			node.PodCIDR = existing.PodCIDR
		}
		if node.NetworkAddress == "" {
			node.NetworkAddress = existing.NetworkAddress
		}
		if existing.Status == node.Status {
			node.StatusUpdatedAt = existing.StatusUpdatedAt
		}
	}
	if err := t.assignPodCIDR(node, podCIDRPool, existing != nil); err != nil {
		return err
	}
	node.ModifyIndex = index
	return t.upsert(TableNodes, node)
}

// PurgeNode removes a node that is not ready (down, left or still
// initializing): its pod CIDR goes back to the pool, and the controllers
// find its pods on no node and declare them lost.
func (t *WriteTxn) PurgeNode(index uint64, req *structs.NodePurgeRequest) error {
	t.at(index)
	existing, err := nodeByID(t.txn, nil, req.NodeID)
	if err != nil {
		return err
	}
	if existing == nil {
		return structs.NotFoundError("node", req.NodeID)
	}
	if existing.Status == structs.NodeStatusReady {
		return structs.NewConflict("node %s is ready: stop its client (or wait until it is down) before purging it", existing.Name)
	}
	return t.remove(TableNodes, existing)
}

// UpdateNodeStatus sets a node's status (ready, down, left).
func (t *WriteTxn) UpdateNodeStatus(index uint64, req *structs.NodeStatusRequest) error {
	t.at(index)
	return t.updateNode(req.NodeID, func(n *structs.Node) {
		if n.Status != req.Status {
			n.Status, n.StatusUpdatedAt = req.Status, req.UpdatedAt
		}
	})
}

// UpdateNodeScheduling changes a node's drain and eligibility.
func (t *WriteTxn) UpdateNodeScheduling(index uint64, req *structs.NodeSchedulingRequest) error {
	t.at(index)
	return t.updateNode(req.NodeID, func(n *structs.Node) {
		if req.Drain != nil {
			n.Drain = *req.Drain
			if n.Drain {
				n.Eligibility = structs.NodeIneligible
			}
		}
		if req.Eligibility != "" {
			n.Eligibility = req.Eligibility
		}
	})
}

func (t *WriteTxn) updateNode(id string, change func(*structs.Node)) error {
	existing, err := nodeByID(t.txn, nil, id)
	if err != nil {
		return err
	}
	if existing == nil {
		return structs.NotFoundError("node", id)
	}
	n := structs.Copy(existing)
	change(n)
	n.ModifyIndex = t.index
	return t.upsert(TableNodes, n)
}

// NodeByID returns a node or nil.
func (s *StateStore) NodeByID(ws memdb.WatchSet, id string) (*structs.Node, error) {
	return nodeByID(s.db.Txn(false), ws, id)
}

func nodeByID(txn *memdb.Txn, ws memdb.WatchSet, id string) (*structs.Node, error) {
	watchCh, raw, err := txn.FirstWatch(TableNodes, IndexID, "", id)
	if err != nil {
		return nil, fmt.Errorf("node lookup %q: %w", id, err)
	}
	ws.Add(watchCh)
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Node), nil
}

// Nodes lists every node.
func (s *StateStore) Nodes(ws memdb.WatchSet) ([]*structs.Node, error) {
	return listTable[*structs.Node](s.db.Txn(false), ws, TableNodes, "")
}
