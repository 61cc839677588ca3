package state

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func commit(t *testing.T, s *StateStore, fn func(txn *WriteTxn) error) {
	t.Helper()
	txn := s.WriteTxn()
	if err := fn(txn); err != nil {
		txn.Abort()
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestNodeReRegisterKeepsOperatorFields(t *testing.T) {
	s := newStore(t)
	node := func() *structs.Node {
		return &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "n1", Name: "a"}, Status: structs.NodeStatusReady}
	}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertNode(1, node(), "") })
	drain := true
	commit(t, s, func(txn *WriteTxn) error {
		return txn.UpdateNodeScheduling(2, &structs.NodeSchedulingRequest{NodeID: "n1", Drain: &drain})
	})
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertNode(3, node(), "") })
	n, _ := s.NodeByID(nil, "n1")
	if !n.Drain || n.Eligibility != structs.NodeIneligible || n.CreateIndex != 1 || n.ModifyIndex != 3 {
		t.Fatalf("after re-register: %+v", n)
	}
	err := s.WriteTxn().UpdateNodeStatus(4, &structs.NodeStatusRequest{NodeID: "nope", Status: structs.NodeStatusDown})
	if err == nil {
		t.Fatal("status of a missing node accepted")
	}
}

func TestPodStatusOwnership(t *testing.T) {
	s := newStore(t)
	pod := func() *structs.Pod {
		return &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1", Namespace: "default"}, JobID: "web",
			OwnerID: "rs1", NodeID: "n1", DesiredStatus: structs.PodDesiredRun, Template: &structs.TaskGroup{Name: "app"}}
	}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(1, []*structs.Pod{pod()}) })
	report := func(node, phase string) *structs.PodStatusRequest {
		return &structs.PodStatusRequest{NodeID: node, Updates: []*structs.PodStatusUpdate{{Namespace: "default", PodID: "p1", Phase: phase,
			TaskStates: map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning, PID: 42}}}}}
	}
	// A report from another node is dropped.
	commit(t, s, func(txn *WriteTxn) error { return txn.UpdatePodStatus(2, report("n2", structs.PodPhaseRunning)) })
	if p, _ := s.PodByID(nil, "default", "p1"); p.Phase != structs.PodPhasePending {
		t.Fatalf("report from the wrong node applied: %s", p.Phase)
	}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpdatePodStatus(3, report("n1", structs.PodPhaseRunning)) })
	// A server-side update (say, a stop) keeps what the client reported.
	stopped := pod()
	stopped.DesiredStatus = structs.PodDesiredStop
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(4, []*structs.Pod{stopped}) })
	p, _ := s.PodByID(nil, "default", "p1")
	if p.Phase != structs.PodPhaseRunning || p.TaskStates["t"].PID != 42 || p.DesiredStatus != structs.PodDesiredStop || p.ClientModifyIndex != 3 {
		t.Fatalf("server update lost client fields: %+v", p)
	}
	// The servers may declare it lost.
	lost := pod()
	lost.Phase = structs.PodPhaseLost
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(5, []*structs.Pod{lost}) })
	if p, _ := s.PodByID(nil, "default", "p1"); p.Phase != structs.PodPhaseLost {
		t.Fatalf("phase %s, want lost", p.Phase)
	}
	byNode, _ := s.PodsByNode(nil, "n1")
	byJob, _ := s.PodsByJob(nil, "default", lost.JobID)
	byPrefix, _ := s.PodsByIDPrefix(nil, "default", "p")
	if len(byNode) != 1 || len(byJob) != 1 || len(byPrefix) != 1 {
		t.Fatalf("indexes: node %d job %d prefix %d", len(byNode), len(byJob), len(byPrefix))
	}
	commit(t, s, func(txn *WriteTxn) error {
		return txn.DeletePods(6, []structs.NamespacedID{{Namespace: "default", ID: "p1"}})
	})
	if p, _ := s.PodByID(nil, "default", "p1"); p != nil {
		t.Fatal("pod not deleted")
	}
}

// TestPodTemplateFromJobVersion: a pod written without its template gets
// the group of its job version.
func TestPodTemplateFromJobVersion(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(5, registerReq(t, testJob("web", 2))); err != nil {
		t.Fatal(err)
	}
	pod := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1", Namespace: "default"}, JobID: "web", Group: "web",
		JobVersion: 0, OwnerID: "rs", DesiredStatus: structs.PodDesiredRun}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(6, []*structs.Pod{pod}) })
	p, _ := s.PodByID(nil, "default", "p1")
	if p.Template == nil || p.Template.Name != "web" || len(p.Template.Tasks) != 1 {
		t.Fatalf("template = %+v", p.Template)
	}
	// Pods of two versions, interleaved in one write, each get their own
	// version's group (UpsertPods remembers the last group it looked up).
	v1 := testJob("web", 2)
	v1.Groups[0].Tasks[0].Config.Args = []string{"v1"}
	if _, err := s.UpsertJob(8, registerReq(t, v1)); err != nil {
		t.Fatal(err)
	}
	var mixed []*structs.Pod
	for i, version := range []uint64{0, 1, 1, 0} {
		mixed = append(mixed, &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: fmt.Sprintf("m%d", i), Namespace: "default"},
			JobID: "web", Group: "web", JobVersion: version, OwnerID: "rs", DesiredStatus: structs.PodDesiredRun})
	}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(9, mixed) })
	for i, version := range []uint64{0, 1, 1, 0} {
		p, _ := s.PodByID(nil, "default", fmt.Sprintf("m%d", i))
		v1Args := len(p.Template.Tasks[0].Config.Args) == 1 && p.Template.Tasks[0].Config.Args[0] == "v1"
		if v1Args != (version == 1) {
			t.Errorf("pod m%d of version %d runs args %v", i, version, p.Template.Tasks[0].Config.Args)
		}
	}
	orphan := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p2", Namespace: "default"}, JobID: "nope", Group: "web"}
	if err := s.WriteTxn().UpsertPods(7, []*structs.Pod{orphan}); err == nil {
		t.Fatal("a pod of an unknown job version was accepted")
	}
}

// webPod is a pod of job "web" that should run, on node ("" unplaced).
func webPod(id, node string) *structs.Pod {
	return &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: id, Namespace: "default"}, JobID: "web",
		NodeID: node, DesiredStatus: structs.PodDesiredRun, Template: &structs.TaskGroup{Name: "app"}}
}

func TestUnplacedPodsOldestFirst(t *testing.T) {
	s := newStore(t)
	// IDs sort against creation order, so an order by ID would show.
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(5, []*structs.Pod{webPod("z-old", "")}) })
	commit(t, s, func(txn *WriteTxn) error {
		return txn.UpsertPods(6, []*structs.Pod{webPod("a-new", ""), webPod("placed", "n1")})
	})
	ids := func() []string {
		pods, err := s.UnplacedPods()
		return podIDs(t, pods, err)
	}
	if got := ids(); len(got) != 2 || got[0] != "z-old" || got[1] != "a-new" {
		t.Fatalf("unplaced pods %v, want [z-old a-new]", got)
	}
	// Placing a pod takes it off the list; its creation index stays.
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(7, []*structs.Pod{webPod("z-old", "n1")}) })
	if got := ids(); len(got) != 1 || got[0] != "a-new" {
		t.Fatalf("after placing z-old: %v, want [a-new]", got)
	}
}

func podIDs(t *testing.T, pods []*structs.Pod, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods {
		out = append(out, p.ID)
	}
	return out
}

func TestUnplacedPodsCreatedSince(t *testing.T) {
	s := newStore(t)
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(5, []*structs.Pod{webPod("old", "")}) })
	commit(t, s, func(txn *WriteTxn) error {
		return txn.UpsertPods(6, []*structs.Pod{webPod("new", ""), webPod("placed", "n1")})
	})
	// A later write to the old pod does not make it new.
	commit(t, s, func(txn *WriteTxn) error {
		p := webPod("old", "")
		p.PendingReason = "no ready nodes"
		return txn.UpsertPods(7, []*structs.Pod{p})
	})
	for since, want := range map[uint64][]string{4: {"old", "new"}, 5: {"new"}, 6: nil, 7: nil} {
		pods, err := s.UnplacedPodsCreatedSince(since)
		if got := podIDs(t, pods, err); !slices.Equal(got, want) {
			t.Errorf("unplaced pods created since %d: %v, want %v", since, got, want)
		}
	}
}

func TestPodsReportedSince(t *testing.T) {
	s := newStore(t)
	commit(t, s, func(txn *WriteTxn) error {
		return txn.UpsertPods(5, []*structs.Pod{webPod("a", "n1"), webPod("b", "n1")})
	})
	report := func(index uint64, id string) {
		commit(t, s, func(txn *WriteTxn) error {
			return txn.UpdatePodStatus(index, &structs.PodStatusRequest{NodeID: "n1",
				Updates: []*structs.PodStatusUpdate{{Namespace: "default", PodID: id, Phase: structs.PodPhaseRunning}}})
		})
	}
	report(6, "a")
	report(7, "b")
	// A server-side write (a stop) is not a report: b stays at 7.
	commit(t, s, func(txn *WriteTxn) error {
		p := webPod("b", "n1")
		p.DesiredStatus = structs.PodDesiredStop
		return txn.UpsertPods(8, []*structs.Pod{p})
	})
	for since, want := range map[uint64][]string{0: {"a", "b"}, 5: {"a", "b"}, 6: {"b"}, 7: nil, 8: nil} {
		pods, err := s.PodsReportedSince(since)
		if got := podIDs(t, pods, err); !slices.Equal(got, want) {
			t.Errorf("pods reported since %d: %v, want %v", since, got, want)
		}
	}
}
