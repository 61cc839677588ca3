package server

import "github.com/mk-orchestrator/mk/structs"

// The reasons the controllers give for stopping pods (Pod.DesiredReason).
const (
	reasonReplaced   = "replaced"
	reasonJobStopped = "job stopped"
	reasonScaledDown = "replica set scaled down"
)

// markReplaced records that newID takes the place of the oldest failed or
// lost pod of an owner that nothing replaced yet (on node pinned, for a
// system group's pod): its desired status becomes stop, reason
// "replaced", ReplacedBy newID. A lost pod keeps its reason ("node
// down"). A pod started for a scale-up replaces nothing.
func (v *view) markReplaced(c *podChanges, ns, owner, pinned, newID string) {
	var oldest *structs.Pod
	for _, p := range v.podsByOwner[key(ns, owner)] {
		if !replaceable(c.current(p)) || (pinned != "" && p.NodeID != pinned && p.PinnedNodeID != pinned) {
			continue
		}
		if oldest == nil || p.ModifyTime < oldest.ModifyTime || (p.ModifyTime == oldest.ModifyTime && p.ID < oldest.ID) {
			oldest = p
		}
	}
	if oldest == nil {
		return
	}
	cp := c.edit(oldest)
	cp.ReplacedBy = newID
	if cp.DesiredStatus == structs.PodDesiredRun {
		cp.DesiredStatus, cp.DesiredReason = structs.PodDesiredStop, reasonReplaced
	}
}

// replaceable: a pod that ended without success and that no pod replaces.
func replaceable(p *structs.Pod) bool {
	return (p.Phase == structs.PodPhaseFailed || p.Phase == structs.PodPhaseLost) && p.ReplacedBy == ""
}

// current returns the pass's copy of p if it changed p, else p.
func (c *podChanges) current(p *structs.Pod) *structs.Pod {
	if cp, ok := c.changed[key(p.Namespace, p.ID)]; ok {
		return cp
	}
	return p
}
