package scheduler

import (
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// gpuNode is a ready node with n GPUs.
func gpuNode(id string, n int) *structs.Node {
	return with(testNode(id, 10000, 10000), func(nd *structs.Node) { nd.Resources.GPUs = n })
}

// gpuGroup is a group of one exec task asking for n GPUs.
func gpuGroup(name string, n int) *structs.TaskGroup {
	g := testGroup(name, 100, 100)
	g.Tasks[0].Resources.GPUs = n
	return g
}

// TestPlaceGPUIndexes: pods get distinct GPU indexes of their node,
// lowest free first, beside those active pods hold; a pod that finds no
// node with enough free GPUs is pending with `no node has N free GPUs`.
func TestPlaceGPUIndexes(t *testing.T) {
	held := testPods(testJob("old", gpuGroup("g", 1)), "g", 1, "old")[0]
	held = runningOn(held, "n1")
	held.GPUs = []int{1}
	cases := []struct {
		name   string
		st     *testState
		group  *structs.TaskGroup
		count  int
		want   [][]int
		reason string
	}{
		{name: "one each", st: newTestState(gpuNode("n1", 2)), group: gpuGroup("g", 1), count: 2, want: [][]int{{0}, {1}}},
		{name: "two in one pod", st: newTestState(gpuNode("n1", 4)), group: gpuGroup("g", 2), count: 2, want: [][]int{{0, 1}, {2, 3}}},
		{name: "around a held one", st: newTestState(gpuNode("n1", 3)).add(held), group: gpuGroup("g", 1), count: 2, want: [][]int{{0}, {2}}},
		{name: "two 1-GPU pods on a 1-GPU node: one waits", st: newTestState(gpuNode("n1", 1)), group: gpuGroup("g", 1), count: 2,
			want: [][]int{{0}}, reason: "no node has 1 free GPU"},
		{name: "no node has them", st: newTestState(gpuNode("n1", 1), gpuNode("n2", 1)), group: gpuGroup("g", 2), count: 1,
			reason: "no node has 2 free GPUs"},
		{name: "no gpus asked", st: newTestState(gpuNode("n1", 1)), group: testGroup("g", 100, 100), count: 1, want: [][]int{nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := testJob("j", tc.group)
			res := Place(tc.st, testPods(job, "g", tc.count, "p"), job)
			var got [][]int
			for _, p := range res.Placements {
				got = append(got, p.GPUs)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("GPUs %v, want %v", got, tc.want)
			}
			reason := ""
			if len(res.Failures) > 0 {
				reason = res.Failures[0].Reason
			}
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
}

// TestVerifyPlanGPUIndexes: the plan applier refuses a placement whose
// GPU indexes an active pod or an earlier placement holds, or that the
// node does not have.
func TestVerifyPlanGPUIndexes(t *testing.T) {
	held := runningOn(testPods(testJob("old", gpuGroup("g", 1)), "g", 1, "old")[0], "n1")
	held.GPUs = []int{0}
	st := newTestState(gpuNode("n1", 3)).add(held)
	one := func(id string, idx int) Placement {
		return Placement{PodID: id, NodeID: "n1", Resources: structs.Resources{GPUs: 1}, GPUs: []int{idx}}
	}
	accepted, rejected := VerifyPlan(st, []Placement{one("a", 0), one("b", 1), one("c", 1), one("d", 5), one("e", 2)})
	ids := func(ps []Placement) (out []string) {
		for _, p := range ps {
			out = append(out, p.PodID)
		}
		return out
	}
	if got := ids(accepted); !reflect.DeepEqual(got, []string{"b", "e"}) {
		t.Errorf("accepted %v, want [b e]", got)
	}
	if got := ids(rejected); !reflect.DeepEqual(got, []string{"a", "c", "d"}) {
		t.Errorf("rejected %v, want [a c d]", got)
	}
}
