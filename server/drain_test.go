package server

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// TestFinishDrains: a draining pod is stopped once drained says so; the
// jobs of pods still draining, those this pass began to drain included,
// are the ones a node's report must wake.
func TestFinishDrains(t *testing.T) {
	draining := gcPod("d", "web", "rs1", structs.PodPhaseRunning, structs.PodDesiredRun, 0)
	draining.Draining, draining.DesiredReason = true, reasonRolledOut
	done := gcPod("x", "api", "rs9", structs.PodPhaseRunning, structs.PodDesiredRun, 0)
	done.Draining, done.DesiredReason = true, reasonScaledDown
	fresh := gcPod("f", "db", "rs5", structs.PodPhaseRunning, structs.PodDesiredRun, 0)
	v := &view{pods: []*structs.Pod{draining, done, fresh}}
	c := newPodChanges(gcNow)
	c.drain(fresh, reasonRolledOut)
	waiting := v.finishDrains(c, func(p *structs.Pod) bool { return p.ID == "x" })
	if got := c.current(done); got.DesiredStatus != structs.PodDesiredStop || got.DesiredReason != reasonScaledDown {
		t.Fatalf("drained pod: %s %q, want stopped with its drain reason", got.DesiredStatus, got.DesiredReason)
	}
	if got := c.current(draining); got.DesiredStatus != structs.PodDesiredRun {
		t.Fatalf("pod still draining was stopped")
	}
	want := map[string]bool{"default/web": true, "default/db": true}
	if len(waiting) != len(want) || !waiting["default/web"] || !waiting["default/db"] {
		t.Fatalf("waiting jobs %v, want %v", waiting, want)
	}
}
