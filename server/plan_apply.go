package server

import (
	"sort"

	"github.com/mk-orchestrator/mk/server/scheduler"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// schedulerState adapts a state store to what the scheduler reads.
type schedulerState struct{ st *state.StateStore }

func (a schedulerState) Nodes() []*structs.Node {
	nodes, _ := a.st.Nodes(nil)
	return nodes
}

func (a schedulerState) PodsByNode(nodeID string) []*structs.Pod {
	pods, _ := a.st.PodsByNode(nil, nodeID)
	return pods
}

// overlayState is the state plus the pods placed earlier in the same pass
// and not written yet, so later placements of the pass count them.
type overlayState struct {
	base  schedulerState
	added map[string][]*structs.Pod // node ID → pods
}

func (o *overlayState) Nodes() []*structs.Node { return o.base.Nodes() }

func (o *overlayState) PodsByNode(nodeID string) []*structs.Pod {
	extra := o.added[nodeID]
	if len(extra) == 0 {
		return o.base.PodsByNode(nodeID)
	}
	return append(o.base.PodsByNode(nodeID), extra...)
}

// placeNew places the pods a pass creates before they are written, so a
// new pod costs one Raft write instead of two (create, then place). Pods
// that find no room are written pending with the reason and wait, like
// any, for room to change. The caller holds planMu until they are written.
func (s *Server) placeNew(c *podChanges) {
	byJob := map[string][]*structs.Pod{}
	var keys []string
	for _, k := range c.order {
		p := c.changed[k]
		if p.NodeID != "" || !live(p) || p.CreateIndex != 0 {
			continue // placed, stopping, or not new: scheduleUnplaced's
		}
		jk := key(p.Namespace, p.JobID)
		if _, ok := byJob[jk]; !ok {
			keys = append(keys, jk)
		}
		byJob[jk] = append(byJob[jk], p)
	}
	if len(keys) == 0 {
		return
	}
	st := s.State()
	ov := &overlayState{base: schedulerState{st}, added: map[string][]*structs.Pod{}}
	for _, k := range keys {
		pods := byJob[k]
		job, err := st.JobByID(nil, pods[0].Namespace, pods[0].JobID)
		if err != nil || job == nil {
			continue
		}
		byID := make(map[string]*structs.Pod, len(pods))
		for _, p := range pods {
			byID[p.ID] = p
		}
		res := scheduler.Place(ov, pods, job)
		accepted, _ := scheduler.VerifyPlan(ov, res.Placements)
		for _, pl := range accepted {
			p := byID[pl.PodID]
			placeOn(p, pl)
			ov.added[p.NodeID] = append(ov.added[p.NodeID], p)
		}
		for _, f := range res.Failures {
			byID[f.PodID].PendingReason = f.Reason
		}
	}
}

// scheduleUnplaced places the pods that should run and have no node, job
// by job: feasibility and ranking in the scheduler, then the plan applier.
// Pods that fit nowhere stay pending with the reason, and are tried again
// on the next pass (when nodes or resources change).
func (s *Server) scheduleUnplaced(now int64, sc *scope) error {
	st := s.State()
	retryPending := sc.full || sc.retryPending
	var pods []*structs.Pod
	var err error
	if retryPending {
		// Every waiting pod, but those whose reason was found after the
		// last change of room (roomIndex) still hold it: skipped below.
		pods, err = st.UnplacedPods()
	} else {
		// Only pods created since the last pass can be new and unplaced:
		// no need to walk every pod that is waiting for room.
		pods, err = st.UnplacedPodsCreatedSince(sc.since)
	}
	if err != nil {
		return err
	}
	byJob := map[string][]*structs.Pod{}
	var keys []string
	for _, p := range pods {
		// Pods that found no room wait for room to change (nodes, or pods
		// ending) instead of being placed again on every pass.
		if p.NodeID != "" || !live(p) || (p.PendingReason != "" && (!retryPending || p.ModifyIndex > s.roomIndex)) {
			continue
		}
		k := key(p.Namespace, p.JobID)
		if _, ok := byJob[k]; !ok {
			keys = append(keys, k)
		}
		byJob[k] = append(byJob[k], p)
	}
	sort.Strings(keys)
	for _, k := range keys {
		jobPods := byJob[k]
		job, err := st.JobByID(nil, jobPods[0].Namespace, jobPods[0].JobID)
		if err != nil || job == nil {
			continue
		}
		res := scheduler.Place(schedulerState{st}, jobPods, job)
		if err := s.applyPlan(jobPods, res, now); err != nil {
			return err
		}
	}
	return nil
}

// applyPlan is the plan applier: it re-checks the placements against the
// latest state (optimistic concurrency, as Nomad's plan applier does), so a
// node that filled up or went away since the plan was made is never
// overcommitted; rejected pods stay unplaced for the next pass.
func (s *Server) applyPlan(pods []*structs.Pod, res *scheduler.Result, now int64) error {
	s.planMu.Lock()
	defer s.planMu.Unlock()
	byID := make(map[string]*structs.Pod, len(pods))
	for _, p := range pods {
		byID[p.ID] = p
	}
	accepted, rejected := scheduler.VerifyPlan(schedulerState{s.State()}, res.Placements)
	if len(rejected) > 0 {
		s.logger.Debug("plan applier rejected placements", "count", len(rejected))
	}
	changes := newPodChanges(now)
	for _, pl := range accepted {
		placeOn(changes.edit(byID[pl.PodID]), pl)
	}
	for _, f := range res.Failures {
		if p := byID[f.PodID]; p.PendingReason != f.Reason {
			changes.edit(p).PendingReason = f.Reason
		}
	}
	return s.writePods(changes.list())
}

// placeOn records an accepted placement on its pod: the node and the
// ports and GPUs the scheduler chose there.
func placeOn(p *structs.Pod, pl scheduler.Placement) {
	p.NodeID, p.NodeName, p.PendingReason = pl.NodeID, pl.NodeName, ""
	p.Ports, p.GPUs = pl.Ports, pl.GPUs
}
