package scheduler

import (
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// verifyCase is one row of TestVerifyPlan.
type verifyCase struct {
	name               string
	st                 *testState
	plan               []Placement
	accepted, rejected []string
}

func TestVerifyPlan(t *testing.T) {
	other := testJob("other", testGroup("g", 500, 500))
	place := func(pod, node string, cpu, mem int) Placement {
		return Placement{PodID: pod, NodeID: node, Resources: structs.Resources{CPU: cpu, MemoryMB: mem}}
	}
	ids := func(ps []Placement) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.PodID)
		}
		return out
	}
	cases := []verifyCase{
		{name: "fits", st: newTestState(testNode("n1", 1000, 1000)),
			plan: []Placement{place("a", "n1", 500, 500), place("b", "n1", 500, 500)}, accepted: []string{"a", "b"}},
		{name: "node gone", st: newTestState(testNode("n1", 1000, 1000)),
			plan: []Placement{place("a", "n9", 1, 1), place("b", "n1", 1, 1)}, accepted: []string{"b"}, rejected: []string{"a"}},
		{name: "node down", st: newTestState(with(testNode("n1", 1000, 1000), func(n *structs.Node) {
			n.Status = structs.NodeStatusDown
		})), plan: []Placement{place("a", "n1", 1, 1)}, rejected: []string{"a"}},
		{name: "node draining", st: newTestState(with(testNode("n1", 1000, 1000), func(n *structs.Node) {
			n.Drain = true
		})), plan: []Placement{place("a", "n1", 1, 1)}, rejected: []string{"a"}},
		{name: "earlier placements of the plan count", st: newTestState(testNode("n1", 1000, 1000)),
			plan:     []Placement{place("a", "n1", 600, 100), place("b", "n1", 600, 100), place("c", "n1", 400, 100)},
			accepted: []string{"a", "c"}, rejected: []string{"b"}},
		{name: "pods committed since the snapshot count",
			st: newTestState(testNode("n1", 1000, 1000), testNode("n2", 1000, 1000)).
				add(runningOn(testPods(other, "g", 1, "o")[0], "n1")),
			plan:     []Placement{place("a", "n1", 600, 100), place("b", "n2", 600, 100)},
			accepted: []string{"b"}, rejected: []string{"a"}},
		{name: "a pod of the plan does not count where it was",
			st: newTestState(testNode("n1", 1000, 1000)).
				add(runningOn(testPods(other, "g", 1, "o")[0], "n1")),
			plan: []Placement{place("o-0000", "n1", 900, 900)}, accepted: []string{"o-0000"}},
		{name: "gpus", st: newTestState(with(testNode("n1", 1000, 1000), func(n *structs.Node) { n.Resources.GPUs = 1 })),
			plan: []Placement{{PodID: "a", NodeID: "n1", Resources: structs.Resources{GPUs: 1}},
				{PodID: "b", NodeID: "n1", Resources: structs.Resources{GPUs: 1}}},
			accepted: []string{"a"}, rejected: []string{"b"}},
	}
	cases = append(cases, portCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc, rej := VerifyPlan(tc.st, tc.plan)
			if !reflect.DeepEqual(ids(acc), tc.accepted) || !reflect.DeepEqual(ids(rej), tc.rejected) {
				t.Fatalf("accepted %q rejected %q, want %q and %q", ids(acc), ids(rej), tc.accepted, tc.rejected)
			}
		})
	}
}

// portCases are TestVerifyPlan's rows about ports: a placement whose port
// was taken since the plan was made is rejected, like one that no longer
// fits.
func portCases() []verifyCase {
	onPort := func(pod, node string, ports ...int) Placement {
		pl := Placement{PodID: pod, NodeID: node, Resources: structs.Resources{CPU: 1, MemoryMB: 1}}
		for _, v := range ports {
			pl.Ports = append(pl.Ports, &structs.AllocatedPort{Label: "http", Value: v, To: v})
		}
		return pl
	}
	stopped := holding("s", "n1", 9090)
	stopped.DesiredStatus = structs.PodDesiredStop
	return []verifyCase{
		{name: "port taken since the snapshot", st: newTestState(testNode("n1", 1000, 1000)).add(holding("o", "n1", 9090)),
			plan: []Placement{onPort("a", "n1", 8080, 9090), onPort("b", "n1", 8080)}, accepted: []string{"b"}, rejected: []string{"a"}},
		{name: "port taken by an earlier placement of the plan", st: newTestState(testNode("n1", 1000, 1000), testNode("n2", 1000, 1000)),
			plan:     []Placement{onPort("a", "n1", 20001), onPort("b", "n1", 20001), onPort("c", "n2", 20001)},
			accepted: []string{"a", "c"}, rejected: []string{"b"}},
		{name: "a stopped pod's port is free", st: newTestState(testNode("n1", 1000, 1000)).add(stopped),
			plan: []Placement{onPort("a", "n1", 9090)}, accepted: []string{"a"}},
		{name: "a pod of the plan does not hold its old port", st: newTestState(testNode("n1", 1000, 1000)).add(holding("o", "n1", 9090)),
			plan: []Placement{onPort("o-0000", "n1", 9090)}, accepted: []string{"o-0000"}},
	}
}

// commit applies accepted placements to the state, as the FSM would.
func commit(st *testState, pods []*structs.Pod, accepted []Placement) {
	byID := map[string]*structs.Pod{}
	for _, p := range pods {
		byID[p.ID] = p
	}
	for _, pl := range accepted {
		st.add(runningOn(byID[pl.PodID], pl.NodeID))
	}
}

// TestConcurrentPlansNeverOvercommit has two schedulers plan against the
// same snapshot, then the applier verifies and commits their plans one
// after the other: the second plan is checked against the state the first
// changed. No node may end up overcommitted, and the second plan must lose
// some placements for the test to mean anything.
func TestConcurrentPlansNeverOvercommit(t *testing.T) {
	lost := 0
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var nodes []*structs.Node
		for i := range 5 + rng.Intn(20) {
			nodes = append(nodes, testNode(fmt.Sprintf("n%02d", i), 1000+rng.Intn(4)*500, 1000+rng.Intn(4)*500))
		}
		st := newTestState(nodes...)
		jobA := testJob("a", testGroup("g", 100+rng.Intn(300), 100+rng.Intn(300)))
		jobB := testJob("b", testGroup("g", 100+rng.Intn(300), 100+rng.Intn(300)))
		jobB.Meta = map[string]string{MetaScheduler: "spread"}
		podsA := testPods(jobA, "g", 20+rng.Intn(80), "a")
		podsB := testPods(jobB, "g", 20+rng.Intn(80), "b")

		// Both plan on the same state at once; Place only reads it.
		var planA, planB *Result
		var wg sync.WaitGroup
		wg.Go(func() { planA = Place(st, podsA, jobA) })
		wg.Go(func() { planB = Place(st, podsB, jobB) })
		wg.Wait()

		accA, rejA := VerifyPlan(st, planA.Placements)
		if len(rejA) != 0 {
			t.Fatalf("seed %d: first plan lost %d placements on an unchanged state", seed, len(rejA))
		}
		commit(st, podsA, accA)
		accB, rejB := VerifyPlan(st, planB.Placements)
		commit(st, podsB, accB)
		lost += len(rejB)
		for _, n := range nodes {
			u := st.usedOn(n.ID)
			if reason := fitReason(n.Resources, u, structs.Resources{}); reason != "" {
				t.Fatalf("seed %d: node %s overcommitted (%s): used %+v of %+v", seed, n.ID, reason, u, *n.Resources)
			}
		}
		if len(accA)+len(accB)+len(rejB) != len(planA.Placements)+len(planB.Placements) {
			t.Fatalf("seed %d: placements lost in verification", seed)
		}
	}
	if lost == 0 {
		t.Fatal("no seed made the plans contend; the test checks nothing")
	}
}
