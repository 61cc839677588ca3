package scheduler

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// portJob is job "web" of one group "g" (100 MHz, 100 MB) with the given
// network ports.
func portJob(ports ...*structs.Port) *structs.Job {
	return jobWith(100, 100, func(j *structs.Job) {
		j.Groups[0].Network = &structs.NetworkSpec{Ports: ports}
	})
}

// holding returns a pod of another job running on node and holding the
// given node ports.
func holding(id, node string, ports ...int) *structs.Pod {
	other := testJob("other", testGroup("g", 100, 100))
	p := runningOn(testPods(other, "g", 1, id)[0], node)
	for _, v := range ports {
		p.Ports = append(p.Ports, &structs.AllocatedPort{Label: fmt.Sprint("p", v), Value: v, To: v})
	}
	return p
}

// portRange gives a node a dynamic port range.
func portRange(n *structs.Node, lo, hi int) *structs.Node {
	n.Resources.MinDynamicPort, n.Resources.MaxDynamicPort = lo, hi
	return n
}

func TestPortChecker(t *testing.T) {
	static := func(v int) *structs.Port { return &structs.Port{Label: fmt.Sprint("s", v), Static: v} }
	dynamic := func(label string) *structs.Port { return &structs.Port{Label: label} }
	group := func(ports ...*structs.Port) *structs.TaskGroup { return portJob(ports...).Groups[0] }
	tiny := portRange(testNode("n1", 1000, 1000), 20000, 20001)
	runCheckCases(t, PortChecker{}, []checkCase{
		{name: "no ports", ok: true},
		{name: "static free", cand: Candidate{Group: group(static(9090)), UsedPorts: map[int]bool{8080: true}}, ok: true},
		{name: "static taken", cand: Candidate{Group: group(static(8080), static(9090)), UsedPorts: map[int]bool{9090: true}},
			reason: "port 9090 already in use"},
		{name: "dynamic fits", cand: Candidate{Node: tiny, Group: group(dynamic("a"), dynamic("b"))}, ok: true},
		{name: "dynamic range full", cand: Candidate{Node: tiny, Group: group(dynamic("a")),
			UsedPorts: map[int]bool{20000: true, 20001: true}}, reason: "dynamic ports exhausted"},
		{name: "taken ports outside the range do not count", cand: Candidate{Node: tiny, Group: group(dynamic("a")),
			UsedPorts: map[int]bool{20000: true, 9090: true}}, ok: true},
		{name: "the pod's own static port in the range counts", cand: Candidate{Node: tiny,
			Group: group(static(20000), dynamic("a"), dynamic("b"))}, reason: "dynamic ports exhausted"},
	})
}

func TestPlacePorts(t *testing.T) {
	web := portJob(&structs.Port{Label: "http", Static: 9090})
	dyn := portJob(&structs.Port{Label: "http"})
	stopped := holding("s", "n1", 9090)
	stopped.DesiredStatus = structs.PodDesiredStop
	failed := holding("f", "n1", 9090)
	failed.Phase = structs.PodPhaseFailed
	runPlaceCases(t, []placeCase{
		{name: "two pods of a static port on one node", st: newTestState(testNode("n1", 1000, 1000)),
			job: web, pods: testPods(web, "g", 2, "p"),
			placed: []string{"p-0000>n1"}, failed: []string{"p-0001: port 9090 already in use on 1 node"}},
		{name: "static port taken by another job",
			st:  newTestState(testNode("n1", 1000, 1000)).add(holding("o", "n1", 9090)),
			job: web, pods: testPods(web, "g", 1, "p"),
			failed: []string{"p-0000: port 9090 already in use on 1 node"}},
		{name: "static port taken on the fuller node goes to the other",
			st:  threeNodes().add(holding("o", "n2", 9090)),
			job: web, pods: testPods(web, "g", 3, "p"),
			placed: []string{"p-0000>n1", "p-0001>n3"},
			failed: []string{"p-0002: port 9090 already in use on 3 nodes"}},
		{name: "reasons aggregate with others",
			st:  newTestState(testNode("n1", 1000, 1000), testNode("n2", 50, 1000), testNode("n3", 1000, 1000)).add(holding("o", "n1", 9090)),
			job: web, pods: testPods(web, "g", 2, "p"),
			placed: []string{"p-0000>n3"},
			failed: []string{"p-0001: port 9090 already in use on 2 nodes, cpu exhausted on 1 node"}},
		{name: "stopped and terminal pods free their ports",
			st:  newTestState(testNode("n1", 1000, 1000)).add(stopped, failed),
			job: web, pods: testPods(web, "g", 1, "p"), placed: []string{"p-0000>n1"}},
		{name: "a tiny dynamic range runs out",
			st:  newTestState(portRange(testNode("n1", 1000, 1000), 20000, 20001)),
			job: dyn, pods: testPods(dyn, "g", 3, "p"),
			placed: []string{"p-0000>n1", "p-0001>n1"}, failed: []string{"p-0002: dynamic ports exhausted on 1 node"}},
		{name: "a dynamic range taken by others",
			st:  newTestState(portRange(testNode("n1", 1000, 1000), 20000, 20001)).add(holding("o", "n1", 20000, 20001)),
			job: dyn, pods: testPods(dyn, "g", 1, "p"), failed: []string{"p-0000: dynamic ports exhausted on 1 node"}},
		{name: "a system pod's port taken on its node",
			st:  newTestState(testNode("n1", 1000, 1000)).add(holding("o", "n1", 9090)),
			job: web, pods: pinned(testPods(web, "g", 1, "p"), "n1"),
			failed: []string{`p-0000: port 9090 already in use on node "name-n1"`}},
	})
}

// pinned pins pods to a node, as a system group's.
func pinned(pods []*structs.Pod, node string) []*structs.Pod {
	for _, p := range pods {
		p.PinnedNodeID = node
	}
	return pods
}

// TestPlaceDynamicPorts: dynamic ports come from the node's range, never
// collide on a node with each other or with the ports of active pods,
// carry the node's IP and the port inside the pod, and are the same for
// the same inputs. Bin-pack fills n1 until its range runs out (97 free
// ports: 48 pods of two), then n2.
func TestPlaceDynamicPorts(t *testing.T) {
	job := portJob(&structs.Port{Label: "http", To: 8080}, &structs.Port{Label: "admin"})
	node := func(id string) *structs.Node {
		n := portRange(testNode(id, 100000, 100000), 20000, 20099)
		n.Address = "10.0.0." + id[1:] + ":6646"
		return n
	}
	newState := func() *testState {
		return newTestState(node("n1"), node("n2")).add(holding("o", "n1", 20010, 20011, 20012))
	}
	pods := testPods(job, "g", 60, "p")
	res := Place(newState(), pods, job)
	if len(res.Failures) != 0 {
		t.Fatalf("failures %v", res.Failures)
	}
	if got, want := nodeCounts(res.Placements), []string{"n1=48", "n2=12"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements per node %q, want %q", got, want)
	}
	taken := map[string]map[int]string{"n1": {20010: "o", 20011: "o", 20012: "o"}, "n2": {}}
	for _, pl := range res.Placements {
		if len(pl.Ports) != 2 {
			t.Fatalf("pod %s got ports %v, want 2", pl.PodID, pl.Ports)
		}
		for _, p := range pl.Ports {
			if p.Value < 20000 || p.Value > 20099 {
				t.Errorf("pod %s port %s = %d, outside the node's range", pl.PodID, p.Label, p.Value)
			}
			if owner, ok := taken[pl.NodeID][p.Value]; ok {
				t.Errorf("pod %s port %s = %d on %s, already %s's", pl.PodID, p.Label, p.Value, pl.NodeID, owner)
			}
			taken[pl.NodeID][p.Value] = pl.PodID
			wantTo := map[string]int{"http": 8080, "admin": p.Value}[p.Label]
			if p.To != wantTo || p.HostIP != "10.0.0."+pl.NodeID[1:] {
				t.Errorf("pod %s port %+v, want To %d and the node's IP", pl.PodID, *p, wantTo)
			}
		}
	}
	if again := Place(newState(), pods, job); !reflect.DeepEqual(again, res) {
		t.Fatal("a second Place on the same inputs chose other ports")
	}
}

func TestAllocatePorts(t *testing.T) {
	n := portRange(testNode("n1", 1000, 1000), 20000, 20002)
	n.Address = "192.0.2.7:6646"
	cases := []struct {
		name  string
		ports []*structs.Port
		used  portSet
		want  []structs.AllocatedPort
	}{
		{name: "static", ports: []*structs.Port{{Label: "http", Static: 9090, To: 80}},
			want: []structs.AllocatedPort{{Label: "http", Value: 9090, To: 80, HostIP: "192.0.2.7"}}},
		{name: "dynamic beside the pod's static port and the taken one",
			ports: []*structs.Port{{Label: "a"}, {Label: "s", Static: 20000}}, used: portSet{20001: true},
			want: []structs.AllocatedPort{{Label: "a", Value: 20002, To: 20002, HostIP: "192.0.2.7"},
				{Label: "s", Value: 20000, To: 20000, HostIP: "192.0.2.7"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := portJob(tc.ports...).Groups[0]
			var got []structs.AllocatedPort
			for _, p := range allocatePorts(n, g, "pod-1", tc.used) {
				got = append(got, *p)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("port %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestConcurrentPlansNeverSharePorts has two schedulers plan on the same
// snapshot for jobs that want a static port and dynamic ones from a small
// range; the applier verifies and commits the plans in turn. No two
// active pods of a node may hold one port, and the second plan must lose
// placements to the first for the test to mean anything.
func TestConcurrentPlansNeverSharePorts(t *testing.T) {
	lost := 0
	for seed := int64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var nodes []*structs.Node
		for i := range 2 + rng.Intn(5) {
			nodes = append(nodes, portRange(testNode(fmt.Sprintf("n%02d", i), 100000, 100000), 20000, 20000+rng.Intn(20)))
		}
		st := newTestState(nodes...)
		jobA := portJob(&structs.Port{Label: "http", Static: 9090}, &structs.Port{Label: "a"})
		jobA.ID = "a"
		jobB := portJob(&structs.Port{Label: "b"}, &structs.Port{Label: "c"})
		jobB.ID = "b"
		podsA := testPods(jobA, "g", 1+rng.Intn(len(nodes)+2), "a")
		podsB := testPods(jobB, "g", 5+rng.Intn(40), "b")
		planA, planB := Place(st, podsA, jobA), Place(st, podsB, jobB)

		accA, rejA := VerifyPlan(st, planA.Placements)
		if len(rejA) != 0 {
			t.Fatalf("seed %d: first plan lost %d placements on an unchanged state", seed, len(rejA))
		}
		commitPorts(st, podsA, accA)
		accB, rejB := VerifyPlan(st, planB.Placements)
		commitPorts(st, podsB, accB)
		lost += len(rejB)
		for _, n := range nodes {
			holder := map[int]string{}
			for _, p := range st.PodsByNode(n.ID) {
				for _, port := range p.Ports {
					if other, ok := holder[port.Value]; ok {
						t.Fatalf("seed %d: port %d on %s held by %s and %s", seed, port.Value, n.ID, other, p.ID)
					}
					holder[port.Value] = p.ID
				}
			}
		}
	}
	if lost == 0 {
		t.Fatal("no seed made the plans contend for ports; the test checks nothing")
	}
}

// commitPorts applies accepted placements with their ports to the state,
// as the plan applier and the FSM would.
func commitPorts(st *testState, pods []*structs.Pod, accepted []Placement) {
	byID := map[string]*structs.Pod{}
	for _, p := range pods {
		byID[p.ID] = p
	}
	for _, pl := range accepted {
		p := runningOn(byID[pl.PodID], pl.NodeID)
		p.Ports = pl.Ports
		st.add(p)
	}
}
