package server

import (
	"testing"

	"github.com/mk-orchestrator/mk/server/scheduler"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// TestPlanApplierRechecksPorts: a plan made on a snapshot gives a pod the
// static port 9090 on the only node; before it is applied, another pod
// that took the port is committed. The applier's check against the latest
// state refuses the placement, as it refuses one that no longer fits; a
// plan made on the new state places the pod nowhere, with the reason.
// The ports of an accepted placement are stored on the pod.
func TestPlanApplierRechecksPorts(t *testing.T) {
	static := func(g *structs.TaskGroup) {
		g.Network = &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", Static: 9090}, {Label: "admin"}}}
	}
	st := planState(t, []*structs.Node{planNode("n1", 1000)}, planJob(1, 100, static), 0, 1)
	pending := func() *structs.Pod {
		p, err := st.PodByID(nil, structs.DefaultNamespace, "pod-0")
		if err != nil || p == nil {
			t.Fatalf("pod-0: %v %v", p, err)
		}
		return p
	}
	job, err := st.JobByID(nil, structs.DefaultNamespace, "web")
	if err != nil {
		t.Fatal(err)
	}
	plan := scheduler.Place(schedulerState{st.View()}, []*structs.Pod{pending()}, job)
	if len(plan.Placements) != 1 || len(plan.Placements[0].Ports) != 2 {
		t.Fatalf("plan %+v, want pod-0 placed with two ports", plan)
	}

	// Another pod takes port 9090 on n1 meanwhile.
	other := structs.Copy(pending())
	other.ID, other.NodeID, other.Phase = "other", "n1", structs.PodPhaseRunning
	other.Ports = []*structs.AllocatedPort{{Label: "http", Value: 9090, To: 9090}}
	upsert(t, st, 20, other)
	accepted, rejected := scheduler.VerifyPlan(schedulerState{st}, plan.Placements)
	if len(accepted) != 0 || len(rejected) != 1 {
		t.Fatalf("accepted %d rejected %d, want the placement refused", len(accepted), len(rejected))
	}
	again := scheduler.Place(schedulerState{st.View()}, []*structs.Pod{pending()}, job)
	if len(again.Failures) != 1 || again.Failures[0].Reason != "port 9090 already in use on 1 node" {
		t.Fatalf("replan %+v, want the port's reason", again)
	}

	// Once the other pod is stopped, the port is free again and a
	// placement's ports are stored with the pod.
	other.DesiredStatus = structs.PodDesiredStop
	upsert(t, st, 21, other)
	plan = scheduler.Place(schedulerState{st.View()}, []*structs.Pod{pending()}, job)
	accepted, _ = scheduler.VerifyPlan(schedulerState{st}, plan.Placements)
	if len(accepted) != 1 {
		t.Fatalf("accepted %d placements once the port is free, want 1", len(accepted))
	}
	p := structs.Copy(pending())
	placeOn(p, accepted[0])
	upsert(t, st, 22, p)
	if got := pending(); got.NodeID != "n1" || len(got.Ports) != 2 || got.Ports[0].Value != 9090 || got.Ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("stored pod: node %q ports %+v", got.NodeID, got.Ports)
	}
}

// upsert writes pods as the FSM would at index.
func upsert(t *testing.T, st *state.StateStore, index uint64, pods ...*structs.Pod) {
	t.Helper()
	txn := st.WriteTxn()
	defer txn.Abort()
	if err := txn.UpsertPods(index, structs.Copy(pods)); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
}
