package scheduler

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// describe renders a result as "pod>node" placements and "pod: reason"
// failures, in result order.
func describe(r *Result) (placed, failed []string) {
	for _, p := range r.Placements {
		placed = append(placed, p.PodID+">"+p.NodeID)
	}
	for _, f := range r.Failures {
		failed = append(failed, f.PodID+": "+f.Reason)
	}
	return placed, failed
}

// placeCase is one row of a Place table test.
type placeCase struct {
	name   string
	st     *testState
	job    *structs.Job
	pods   []*structs.Pod
	placed []string
	failed []string
}

func runPlaceCases(t *testing.T, cases []placeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			placed, failed := describe(Place(tc.st, tc.pods, tc.job))
			if !reflect.DeepEqual(placed, tc.placed) {
				t.Errorf("placed %q, want %q", placed, tc.placed)
			}
			if !reflect.DeepEqual(failed, tc.failed) {
				t.Errorf("failed %q, want %q", failed, tc.failed)
			}
		})
	}
}

// threeNodes is n1, n2 and n3, each 1000 MHz and 1000 MB.
func threeNodes() *testState {
	return newTestState(testNode("n1", 1000, 1000), testNode("n2", 1000, 1000), testNode("n3", 1000, 1000))
}

// jobWith is job "web" of one group "g" asking for cpu and memory, changed
// by f.
func jobWith(cpu, mem int, f func(j *structs.Job)) *structs.Job {
	j := testJob("web", testGroup("g", cpu, mem))
	f(j)
	return j
}

func TestPlaceRanking(t *testing.T) {
	web := testJob("web", testGroup("g", 400, 400))
	other := testJob("other", testGroup("g", 100, 100))
	spread := jobWith(100, 100, func(j *structs.Job) { j.Meta = map[string]string{MetaScheduler: "spread"} })
	distinct := jobWith(100, 100, func(j *structs.Job) {
		j.Groups[0].Constraints = []*structs.Constraint{{Operator: "distinct_hosts", Value: "true"}}
	})
	runPlaceCases(t, []placeCase{
		{name: "bin-pack fills the lowest ID first", st: threeNodes(), job: web, pods: testPods(web, "g", 3, "p"),
			placed: []string{"p-0000>n1", "p-0001>n1", "p-0002>n2"}},
		{name: "bin-pack prefers the fuller node",
			st:  threeNodes().add(runningOn(testPods(other, "g", 1, "o")[0], "n2")),
			job: web, pods: testPods(web, "g", 1, "p"), placed: []string{"p-0000>n2"}},
		{name: "earlier placements of the plan count",
			st:  newTestState(testNode("n1", 2000, 1000)),
			job: web, pods: testPods(web, "g", 3, "p"),
			placed: []string{"p-0000>n1", "p-0001>n1"},
			failed: []string{"p-0002: memory exhausted on 1 node"}},
		{name: "spread round robin", st: threeNodes(), job: spread, pods: testPods(spread, "g", 6, "p"),
			placed: []string{"p-0000>n1", "p-0001>n2", "p-0002>n3", "p-0003>n1", "p-0004>n2", "p-0005>n3"}},
		{name: "spread counts pods already there, then utilisation",
			st: threeNodes().add(runningOn(testPods(spread, "g", 1, "old")[0], "n1"),
				runningOn(testPods(other, "g", 1, "o")[0], "n2")),
			job: spread, pods: testPods(spread, "g", 3, "p"),
			// After two placements every node holds one pod of the group and
			// n1 and n3 are equally used: the tie goes to the lower ID.
			placed: []string{"p-0000>n3", "p-0001>n2", "p-0002>n1"}},
		{name: "distinct hosts",
			st:  threeNodes().add(runningOn(testPods(distinct, "g", 1, "old")[0], "n2")),
			job: distinct, pods: testPods(distinct, "g", 2, "p"),
			placed: []string{"p-0000>n1", "p-0001>n3"}},
		{name: "distinct hosts exhausted",
			st:  newTestState(testNode("n1", 1000, 1000), testNode("n2", 1000, 1000)),
			job: distinct, pods: testPods(distinct, "g", 3, "p"),
			placed: []string{"p-0000>n1", "p-0001>n2"},
			failed: []string{"p-0002: distinct_hosts on 2 nodes"}},
		{name: "a pod being placed does not count where it was",
			st:  newTestState(testNode("n1", 400, 400)).add(runningOn(testPods(web, "g", 1, "p")[0], "n1")),
			job: web, pods: testPods(web, "g", 1, "p"), placed: []string{"p-0000>n1"}},
	})
}

func TestPlaceReasons(t *testing.T) {
	web := testJob("web", testGroup("g", 400, 400))
	other := testJob("other", testGroup("g", 100, 100))
	docker := jobWith(400, 400, func(j *structs.Job) { j.Groups[0].Tasks[0].Driver = "docker" })
	dc2 := jobWith(400, 400, func(j *structs.Job) { j.Datacenters = []string{"dc2"} })
	windows := jobWith(400, 400, func(j *structs.Job) {
		j.Groups[0].Constraints = []*structs.Constraint{
			{Attribute: "${attr.kernel.name}", Operator: "=", Value: "windows"}}
	})
	withDocker := func(n *structs.Node) {
		n.Drivers["docker"] = &structs.DriverInfo{Detected: true, Healthy: true}
	}
	runPlaceCases(t, []placeCase{
		{name: "no nodes", st: newTestState(), job: web, pods: testPods(web, "g", 2, "p"),
			failed: []string{"p-0000: no nodes registered", "p-0001: no nodes registered"}},
		{name: "mixed reasons",
			st: newTestState(with(testNode("n1", 1000, 100), withDocker), with(testNode("n2", 1000, 300), withDocker),
				testNode("n3", 1000, 1000)),
			job: docker, pods: testPods(docker, "g", 1, "p"),
			failed: []string{`p-0000: memory exhausted on 2 nodes, missing driver "docker" on 1 node`}},
		{name: "no node has the driver", st: threeNodes(), job: docker, pods: testPods(docker, "g", 1, "p"),
			failed: []string{`p-0000: no node has driver "docker"`}},
		{name: "datacenter", st: threeNodes(), job: dc2, pods: testPods(dc2, "g", 1, "p"),
			failed: []string{`p-0000: 0 nodes in datacenter "dc2"`}},
		{name: "constraint", st: threeNodes(), job: windows, pods: testPods(windows, "g", 1, "p"),
			failed: []string{"p-0000: constraint ${attr.kernel.name} = windows on 3 nodes"}},
		{name: "not ready nodes, dead and stopped pods hold nothing",
			st: newTestState(with(testNode("n1", 1000, 1000), func(n *structs.Node) { n.Drain = true }),
				testNode("n2", 400, 400)).
				add(with2(runningOn(testPods(other, "g", 1, "dead")[0], "n2"), func(p *structs.Pod) {
					p.Phase = structs.PodPhaseFailed
				}), with2(runningOn(testPods(other, "g", 1, "stopped")[0], "n2"), func(p *structs.Pod) {
					p.DesiredStatus = structs.PodDesiredStop
				})),
			job: web, pods: testPods(web, "g", 2, "p"),
			placed: []string{"p-0000>n2"},
			failed: []string{"p-0001: cpu exhausted on 1 node, node not ready on 1 node"}},
		{name: "pod of an unknown group", st: threeNodes(), job: web,
			pods:   []*structs.Pod{{ObjectMeta: structs.ObjectMeta{ID: "x"}, Group: "nope"}},
			failed: []string{`x: group "nope" not found in job "web"`}},
	})
}

// with2 applies changes to a pod and returns it.
func with2(p *structs.Pod, f func(p *structs.Pod)) *structs.Pod {
	f(p)
	return p
}

func TestPlaceBatchesByGroupAndAsk(t *testing.T) {
	job := testJob("web", testGroup("small", 100, 100), testGroup("big", 600, 600))
	small, big := testPods(job, "small", 2, "s"), testPods(job, "big", 2, "b")
	// Group comes from the job when the pod has no template.
	big[1].Template = nil
	big[1].Resources = nil
	pods := []*structs.Pod{small[0], big[0], small[1], big[1]}
	st := newTestState(testNode("n1", 1000, 1000), testNode("n2", 1000, 1000))
	r := Place(st, pods, job)
	placed, failed := describe(r)
	// Both small pods go first, as one batch; the second big pod no
	// longer fits beside the first.
	want := []string{"s-0000>n1", "s-0001>n1", "b-0000>n1", "b-0001>n2"}
	if !reflect.DeepEqual(placed, want) || failed != nil {
		t.Fatalf("placed %q failed %q, want %q", placed, failed, want)
	}
	if got := r.Placements[3]; got.NodeName != "name-n2" || got.Resources.CPU != 600 {
		t.Fatalf("placement %+v lacks node name or resources", got)
	}
}

func TestPlaceIsDeterministic(t *testing.T) {
	job := testJob("web", testGroup("g", 300, 200))
	var nodes []*structs.Node
	for i := range 20 {
		nodes = append(nodes, testNode(fmt.Sprintf("n%02d", i), 1000+i%3*500, 1000))
	}
	pods := testPods(job, "g", 60, "p")
	first, _ := describe(Place(newTestState(nodes...), pods, job))
	reversed := make([]*structs.Node, len(nodes))
	for i, n := range nodes {
		reversed[len(nodes)-1-i] = n
	}
	second, _ := describe(Place(newTestState(reversed...), pods, job))
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("node order changed the plan:\n%q\n%q", first, second)
	}
	if len(first) != 60 {
		t.Fatalf("placed %d pods, want 60", len(first))
	}
}

// pinnedTo pins pods to a node, as system groups do.
func pinnedTo(node string, pods []*structs.Pod) []*structs.Pod {
	for _, p := range pods {
		p.PinnedNodeID = node
	}
	return pods
}

func TestPlacePinned(t *testing.T) {
	sys := testJob("sys", testGroup("g", 400, 400))
	sys.Type = structs.JobTypeSystem
	other := testJob("other", testGroup("g", 700, 700))
	runPlaceCases(t, []placeCase{
		// Bin-packing would pick another node: a pin wins over ranking.
		{name: "placed on its node", st: threeNodes().add(runningOn(testPods(other, "g", 1, "o")[0], "n1")),
			job: sys, pods: pinnedTo("n3", testPods(sys, "g", 1, "p")), placed: []string{"p-0000>n3"}},
		{name: "no room on its node, room elsewhere",
			st:  threeNodes().add(runningOn(testPods(other, "g", 1, "o")[0], "n2")),
			job: sys, pods: pinnedTo("n2", testPods(sys, "g", 1, "p")),
			failed: []string{`p-0000: cpu exhausted on node "name-n2"`}},
		{name: "pods placed in the same call count",
			st: threeNodes(), job: sys, pods: pinnedTo("n1", testPods(sys, "g", 3, "p")),
			placed: []string{"p-0000>n1", "p-0001>n1"},
			failed: []string{`p-0002: cpu exhausted on node "name-n1"`}},
		{name: "node drained", st: newTestState(with(testNode("n1", 1000, 1000), func(n *structs.Node) { n.Drain = true })),
			job: sys, pods: pinnedTo("n1", testPods(sys, "g", 1, "p")),
			failed: []string{`p-0000: node not ready on node "name-n1"`}},
		{name: "node gone", st: threeNodes(), job: sys, pods: pinnedTo("n9", testPods(sys, "g", 1, "p")),
			failed: []string{`p-0000: node "n9" not found`}},
	})
}

func TestNodeFeasible(t *testing.T) {
	job := jobWith(100, 100, func(j *structs.Job) {
		j.Groups[0].Constraints = []*structs.Constraint{{Attribute: "${attr.cpu.arch}", Operator: "=", Value: "amd64"}}
	})
	tests := []struct {
		name   string
		node   *structs.Node
		ok     bool
		reason string
	}{
		{"fits", testNode("n1", 10, 10), true, ""}, // resources are not a node check
		{"down", with(testNode("n1", 1000, 1000), func(n *structs.Node) { n.Status = structs.NodeStatusDown }), false, "node not ready"},
		{"driver", with(testNode("n1", 1000, 1000), func(n *structs.Node) { delete(n.Drivers, "exec") }), false, `missing driver "exec"`},
		{"constraint", with(testNode("n1", 1000, 1000), func(n *structs.Node) { n.Attributes["cpu.arch"] = "arm64" }), false, "constraint ${attr.cpu.arch} = amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := NodeFeasible(job, job.Groups[0], tc.node)
			if ok != tc.ok || reason != tc.reason {
				t.Fatalf("got %v %q, want %v %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}
