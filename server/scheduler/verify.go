package scheduler

import (
	"github.com/mk-orchestrator/mk/structs"
)

// VerifyPlan is the plan applier's check, as in Nomad's optimistic
// concurrency: a plan was computed on a snapshot that other committed plans
// may have outdated, so before committing it the leader re-checks each
// placement against the newest state. A placement is accepted when its
// node still exists, is ready (ready, eligible, not draining), has room
// for the pod and its ports and GPU indexes are free, beside its active pods and the
// placements of this plan accepted before it; otherwise it is rejected and its pod goes back to the
// scheduler. Placements are checked in order, so the result is
// deterministic.
//
// Pods named by the plan do not count where state may already record them,
// so a pod that moves is not counted twice.
func VerifyPlan(st State, placements []Placement) (accepted, rejected []Placement) {
	nodes := map[string]*structs.Node{}
	for _, n := range st.Nodes() {
		if n != nil {
			nodes[n.ID] = n
		}
	}
	inPlan := make(map[string]bool, len(placements))
	for _, p := range placements {
		inPlan[p.PodID] = true
	}
	used := map[string]nodeState{}
	for _, p := range placements {
		n := nodes[p.NodeID]
		if n == nil || !n.Ready() {
			rejected = append(rejected, p)
			continue
		}
		ns, ok := used[n.ID]
		if !ok {
			ns = nodeUsage(st, n, inPlan)
		}
		if fitReason(n.Resources, ns.used, p.Resources) != "" || ns.ports.conflict(p.Ports) != 0 ||
			ns.gpus.conflict(p.GPUs, nodeGPUCount(n)) {
			used[n.ID] = ns
			rejected = append(rejected, p)
			continue
		}
		ns.take(p.Resources, p.Ports, p.GPUs)
		used[n.ID] = ns
		accepted = append(accepted, p)
	}
	return accepted, rejected
}

// nodeUsage sums the resources and ports of the node's active pods,
// leaving out those in exclude.
func nodeUsage(st State, n *structs.Node, exclude map[string]bool) nodeState {
	ns := nodeState{node: n}
	for _, p := range st.PodsByNode(n.ID) {
		if p.Active() && !exclude[p.ID] {
			ns.used = addResources(ns.used, podAsk(p, nil))
			ns.takePod(p)
		}
	}
	return ns
}
