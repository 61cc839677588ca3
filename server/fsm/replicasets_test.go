package fsm

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// TestApplyReplicaSetsUpdate: the collector's command scales an old
// replica set to zero and deletes it, and never touches the current one.
func TestApplyReplicaSetsUpdate(t *testing.T) {
	f := newFSM(t)
	f.Apply(registerLog(t, 1, job("web", 2)))
	v1 := job("web", 2)
	v1.Groups[0].Tasks[0].Config.Args = []string{"v1"}
	f.Apply(registerLog(t, 2, v1))
	objs, err := f.State().WorkloadsByJob(structs.DefaultNamespace, "web")
	if err != nil || len(objs.ReplicaSets) != 2 || len(objs.Deployments) != 1 {
		t.Fatalf("objects %+v, %v", objs, err)
	}
	current := objs.Deployments[0].ReplicaSetID
	var old string
	for _, rs := range objs.ReplicaSets {
		if rs.ID != current {
			old = rs.ID
		}
	}
	update := func(index uint64, u ...structs.ReplicaSetUpdate) {
		t.Helper()
		resp := f.Apply(logOf(t, index, structs.ReplicaSetsUpdateRequestType, &structs.ReplicaSetsUpdateRequest{Updates: u}))
		if err, ok := resp.(error); ok {
			t.Fatal(err)
		}
	}
	ref := func(id string, replicas int, del bool) structs.ReplicaSetUpdate {
		return structs.ReplicaSetUpdate{Namespace: structs.DefaultNamespace, JobID: "web", ID: id, Replicas: replicas, Delete: del}
	}
	replicas := func() map[string]int {
		objs, err := f.State().WorkloadsByJob(structs.DefaultNamespace, "web")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, rs := range objs.ReplicaSets {
			out[rs.ID] = rs.Replicas
		}
		return out
	}

	update(3, ref(old, 0, false), ref(current, 0, false), ref("gone", 0, false))
	if got := replicas(); got[old] != 0 || got[current] != 2 || len(got) != 2 {
		t.Fatalf("after scale: %v (old %s, current %s)", got, old, current)
	}
	update(4, ref(old, 0, true), ref(current, 0, true))
	if got := replicas(); len(got) != 1 || got[current] != 2 {
		t.Fatalf("after delete: %v", got)
	}
}
