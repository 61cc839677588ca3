package server

import (
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// heartbeats keeps, on the leader only, a timer per node: a node that
// does not heartbeat within its TTL (plus a grace) is marked down. Timers
// live in memory, not in Raft: a new leader starts them again for every
// node, with a longer grace so a failover never marks the fleet down.
type heartbeats struct {
	s *Server
	// ttl is what clients are told; grace is added before marking down.
	ttl, grace, failoverGrace time.Duration

	mu     sync.Mutex
	timers map[string]*nodeTimer
	active bool
}

// nodeTimer is a node's pending down-marking and when it fires.
type nodeTimer struct {
	timer    *time.Timer
	deadline time.Time
}

func newHeartbeats(s *Server) *heartbeats {
	return &heartbeats{
		s:             s,
		ttl:           s.config.HeartbeatTTL,
		grace:         s.config.HeartbeatGrace,
		failoverGrace: s.config.FailoverHeartbeatGrace,
		timers:        map[string]*nodeTimer{},
	}
}

// reset (re)arms a node's timer and returns the TTL the client should use.
func (h *heartbeats) reset(nodeID string) time.Duration {
	h.arm(nodeID, h.ttl+h.grace)
	return h.ttl
}

func (h *heartbeats) arm(nodeID string, after time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.active {
		return
	}
	if t, ok := h.timers[nodeID]; ok {
		t.timer.Reset(after)
		t.deadline = time.Now().Add(after)
		return
	}
	h.timers[nodeID] = &nodeTimer{
		timer:    time.AfterFunc(after, func() { h.expired(nodeID) }),
		deadline: time.Now().Add(after),
	}
}

// forget drops a purged node's timer.
func (h *heartbeats) forget(nodeID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.timers[nodeID]; ok {
		t.timer.Stop()
		delete(h.timers, nodeID)
	}
}

// memberGone shortens a node's timer to the grace once its Serf member
// failed or left: the next heartbeat, if one comes, arms it fully again.
func (h *heartbeats) memberGone(nodeID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.timers[nodeID]
	if !h.active || !ok || time.Until(t.deadline) <= h.grace {
		return
	}
	t.timer.Reset(h.grace)
	t.deadline = time.Now().Add(h.grace)
}

// start arms a timer for every node not already down; the leader calls it
// when it gains leadership.
func (h *heartbeats) start() {
	h.mu.Lock()
	h.active = true
	h.mu.Unlock()
	nodes, err := h.s.State().Nodes(nil)
	if err != nil {
		h.s.logger.Error("heartbeats: list nodes", "error", err)
		return
	}
	for _, n := range nodes {
		if n.Status == structs.NodeStatusReady {
			h.arm(n.ID, h.ttl+h.failoverGrace)
		}
	}
}

// stop drops every timer; the leader calls it when it loses leadership.
func (h *heartbeats) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active = false
	for id, t := range h.timers {
		t.timer.Stop()
		delete(h.timers, id)
	}
}

func (h *heartbeats) expired(nodeID string) {
	h.mu.Lock()
	active := h.active
	delete(h.timers, nodeID)
	h.mu.Unlock()
	if !active || !h.s.IsLeader() {
		return
	}
	node, err := h.s.State().NodeByID(nil, nodeID)
	if err != nil || node == nil || node.Status != structs.NodeStatusReady {
		return
	}
	h.s.logger.Warn("node missed its heartbeat; marking it down", "node", node.Name, "id", nodeID)
	if _, err := h.s.setNodeStatus(nodeID, structs.NodeStatusDown); err != nil {
		h.s.logger.Error("mark node down", "node", nodeID, "error", err)
		h.arm(nodeID, h.ttl) // try again
		return
	}
	h.s.kickControllers()
}
