package server

import (
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// A pod that a rollout or a scale-down stops is drained first: it is
// marked Draining, which takes it out of its services' endpoints; each
// client reports the endpoints index its proxy has programmed (and its
// ingress routes); once every ready node has reported an index at or past
// the endpoints write that dropped the pod, the pod is stopped, and its
// client waits the group's shutdown_delay before the kill signal. So no
// node sends a new connection to a pod that is shutting down.

// drainTimeout bounds the wait for nodes to report: a node whose proxy is
// stuck must not hold a rollout forever.
const drainTimeout = 15 * time.Second

// proxySyncs holds, on the leader, the endpoints index each node's proxy
// last reported programmed. It is memory only: after a failover the new
// leader waits for new reports (drainTimeout at most).
type proxySyncs struct {
	mu      sync.Mutex
	applied map[string]uint64
	// since is when this server started collecting (its leadership).
	since time.Time
}

func newProxySyncs() *proxySyncs { return &proxySyncs{applied: map[string]uint64{}, since: time.Now()} }

func (p *proxySyncs) reset() {
	p.mu.Lock()
	p.applied, p.since = map[string]uint64{}, time.Now()
	p.mu.Unlock()
}

func (p *proxySyncs) report(nodeID string, index uint64) {
	p.mu.Lock()
	if index > p.applied[nodeID] {
		p.applied[nodeID] = index
	}
	p.mu.Unlock()
}

// caughtUp reports whether every ready node has programmed index.
// A node that never reported has no proxy (or its reports are yet to
// come after a failover: then it is waited for).
func (p *proxySyncs) caughtUp(nodes map[string]*structs.Node, index uint64, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range nodes {
		if n.Status != structs.NodeStatusReady {
			continue
		}
		got, ok := p.applied[id]
		if !ok && now.Sub(p.since) > drainTimeout {
			continue
		}
		if got < index {
			return false
		}
	}
	return true
}

// NodeEndpointsSynced records that a node's proxy programmed the
// endpoints as of index, and wakes the controllers when pods wait on it.
func (s *Server) NodeEndpointsSynced(nodeID string, index uint64) {
	s.proxySyncs.report(nodeID, index)
	s.drainWaits.Lock()
	jobs := make([]string, 0, len(s.drainWaits.jobs))
	for k := range s.drainWaits.jobs {
		jobs = append(jobs, k)
	}
	s.drainWaits.Unlock()
	for _, k := range jobs {
		ns, id := splitKey(k)
		s.dirty.markJob(ns, id)
	}
	if len(jobs) > 0 {
		s.kickControllers()
	}
}

// drainedCheck returns the test finishDrains applies to a draining pod:
// gone from every endpoints of its job's services, and every node's
// proxy past the write that dropped it (or drainTimeout since the drain
// began).
func (s *Server) drainedCheck(st *state.StateStore, nodes map[string]*structs.Node, now time.Time) func(*structs.Pod) bool {
	return func(p *structs.Pod) bool {
		if now.Sub(time.Unix(0, p.DrainStartTime)) > drainTimeout {
			return true
		}
		objs, err := st.ObjectsByJob(nil, p.Namespace, p.JobID)
		if err != nil {
			return false
		}
		var index uint64
		for _, svc := range objs.Services {
			eps, err := st.EndpointsOf(nil, svc.Namespace, svc.ID)
			if err != nil {
				return false
			}
			if eps == nil {
				continue
			}
			for _, e := range eps.Endpoints {
				if e.PodID == p.ID && e.Ready {
					return false // the endpoints controller has not dropped it yet
				}
			}
			index = max(index, eps.ModifyIndex)
		}
		return index == 0 || s.proxySyncs.caughtUp(nodes, index, now)
	}
}

// finishDrains stops the draining pods that drained allows, and returns
// the jobs that still have pods draining.
func (v *view) finishDrains(c *podChanges, drained func(*structs.Pod) bool) map[string]bool {
	waiting := map[string]bool{}
	for _, p := range v.pods {
		if !p.Draining || !live(p) {
			continue
		}
		if cp, ok := c.changed[key(p.Namespace, p.ID)]; ok && cp.DesiredStatus == structs.PodDesiredStop {
			continue
		}
		if drained(p) {
			c.stop(p, p.DesiredReason)
			continue
		}
		waiting[key(p.Namespace, p.JobID)] = true
	}
	// Pods this pass began to drain wait too: the nodes' reports about
	// them must wake their job's next pass.
	for _, p := range c.changed {
		if p.Draining && p.DesiredStatus == structs.PodDesiredRun {
			waiting[key(p.Namespace, p.JobID)] = true
		}
	}
	return waiting
}

// setDrainWaits records which jobs have pods waiting on nodes' reports:
// all of them after a full pass, those in scope after an incremental one.
func (s *Server) setDrainWaits(sc *scope, waiting map[string]bool) {
	s.drainWaits.Lock()
	defer s.drainWaits.Unlock()
	if sc.full || s.drainWaits.jobs == nil {
		s.drainWaits.jobs = waiting
		return
	}
	for k := range sc.jobs {
		delete(s.drainWaits.jobs, k)
	}
	for k := range waiting {
		s.drainWaits.jobs[k] = true
	}
}
