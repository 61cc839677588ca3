package scheduler

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// rpod is a pod for reconcile tests.
func rpod(id string, createIndex uint64, node, desired, phase string) *structs.Pod {
	return &structs.Pod{
		ObjectMeta:    structs.ObjectMeta{ID: id, CreateIndex: createIndex},
		NodeID:        node,
		DesiredStatus: desired,
		Phase:         phase,
	}
}

func TestReconcileCount(t *testing.T) {
	const run, stop = structs.PodDesiredRun, structs.PodDesiredStop
	const pending, running = structs.PodPhasePending, structs.PodPhaseRunning
	cases := []struct {
		name    string
		desired int
		pods    []*structs.Pod
		start   int
		stop    []string
	}{
		{name: "nothing", desired: 0},
		{name: "start all", desired: 3, start: 3},
		{name: "start the difference, ignoring dead and stopped", desired: 3, pods: []*structs.Pod{
			rpod("a", 1, "n1", run, running),
			rpod("b", 2, "n1", run, structs.PodPhaseFailed),
			rpod("c", 3, "n1", stop, running),
			rpod("d", 4, "n1", run, structs.PodPhaseLost),
		}, start: 2},
		{name: "steady", desired: 2, pods: []*structs.Pod{
			rpod("a", 1, "n1", run, running), rpod("b", 2, "", run, pending)}},
		{name: "stop newest first", desired: 1, pods: []*structs.Pod{
			rpod("a", 5, "n1", run, running), rpod("b", 9, "n1", run, running), rpod("c", 7, "n2", run, running),
		}, stop: []string{"b", "c"}},
		{name: "stop unplaced first", desired: 2, pods: []*structs.Pod{
			rpod("a", 5, "n1", run, running), rpod("b", 9, "n1", run, running),
			rpod("c", 1, "", run, pending), rpod("d", 2, "", run, pending),
		}, stop: []string{"d", "c"}},
		{name: "ties by ID", desired: 0, pods: []*structs.Pod{
			rpod("a", 5, "n1", run, running), rpod("b", 5, "n1", run, running)}, stop: []string{"b", "a"}},
		{name: "negative desired", desired: -1, pods: []*structs.Pod{rpod("a", 1, "n1", run, running)},
			stop: []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start, toStop := ReconcileCount(tc.desired, tc.pods)
			var ids []string
			for _, p := range toStop {
				ids = append(ids, p.ID)
			}
			if start != tc.start || !reflect.DeepEqual(ids, tc.stop) {
				t.Fatalf("ReconcileCount = (%d, %q), want (%d, %q)", start, ids, tc.start, tc.stop)
			}
		})
	}
}

// TestReconcileCountProperty checks with generated inputs that applying
// the result leaves exactly the desired number of live pods, that only live
// pods are stopped, and that no placed pod is stopped while an unplaced one
// survives.
func TestReconcileCountProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	phases := []string{structs.PodPhasePending, structs.PodPhaseRunning, structs.PodPhaseSucceeded,
		structs.PodPhaseFailed, structs.PodPhaseLost}
	for iter := range 2000 {
		var pods []*structs.Pod
		for i := range rng.Intn(30) {
			p := rpod(fmt.Sprintf("p%d", i), uint64(rng.Intn(10)), "", structs.PodDesiredRun, phases[rng.Intn(len(phases))])
			if rng.Intn(2) == 0 {
				p.NodeID = "n1"
			}
			if rng.Intn(5) == 0 {
				p.DesiredStatus = structs.PodDesiredStop
			}
			pods = append(pods, p)
		}
		desired := rng.Intn(25) - 2
		start, toStop := ReconcileCount(desired, pods)
		stopped := map[*structs.Pod]bool{}
		for _, p := range toStop {
			if p.DesiredStatus != structs.PodDesiredRun || p.Terminal() || stopped[p] {
				t.Fatalf("iter %d: stops %q, which is not live or stopped twice", iter, p.ID)
			}
			stopped[p] = true
		}
		live, keptUnplaced := 0, false
		for _, p := range pods {
			if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() && !stopped[p] {
				live++
				keptUnplaced = keptUnplaced || p.NodeID == ""
			}
		}
		if got := live + start; got != max(desired, 0) {
			t.Fatalf("iter %d: %d live + %d started = %d, want %d", iter, live, start, got, max(desired, 0))
		}
		if start > 0 && len(toStop) > 0 {
			t.Fatalf("iter %d: both starts and stops", iter)
		}
		for p := range stopped {
			if p.NodeID != "" && keptUnplaced {
				t.Fatalf("iter %d: stopped placed %q but kept an unplaced pod", iter, p.ID)
			}
		}
	}
}
