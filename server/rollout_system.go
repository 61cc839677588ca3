package server

import (
	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
)

// rollSystemGroup replaces the pods of a system group that run an older
// template, one node at a time or max_unavailable nodes at a time: a node
// counts as unavailable while its pod is being replaced (the old one
// draining, the new one not yet healthy). The replacement itself is the
// group's usual one-pod-per-node rule: once the old pod is gone, the node
// has no pod and gets one of the current version. podless nodes (whose
// old pod is gone and whose new one this pass makes) count as
// unavailable too: without them a pass drained the next node's pod while
// the last one's successor was yet to be made.
func (v *view) rollSystemGroup(c *podChanges, g *structs.TaskGroup, owned []*structs.Pod, podless int) {
	current, err := jobspecs.TemplateHash(g)
	if err != nil {
		return
	}
	hashes := map[*structs.TaskGroup]string{}
	outdated := func(p *structs.Pod) bool {
		if p.Template == nil || p.Template == g {
			return false
		}
		h, ok := hashes[p.Template]
		if !ok {
			h, _ = jobspecs.TemplateHash(p.Template)
			hashes[p.Template] = h
		}
		return h != current
	}
	_, unavailable := resolveStep(systemStrategy(g), len(owned))
	busy := podless
	var old []*structs.Pod
	for _, p := range owned {
		switch {
		case p.Draining:
			busy++
		case outdated(p):
			old = append(old, p)
		case !available(p):
			busy++ // a node's new pod on its way
		}
	}
	for _, p := range old {
		if busy >= max(unavailable, 1) {
			return
		}
		c.drain(p, reasonRolledOut)
		busy++
	}
}

// systemStrategy is a system group's update block, one node at a time
// when it has none.
func systemStrategy(g *structs.TaskGroup) *structs.UpdateStrategy {
	if g.Update != nil {
		return g.Update
	}
	return &structs.UpdateStrategy{MaxUnavailable: 1}
}
