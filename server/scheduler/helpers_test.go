package scheduler

import (
	"fmt"
	"sort"

	"github.com/mk-orchestrator/mk/structs"
)

// testState is an in-memory State.
type testState struct {
	nodes []*structs.Node
	pods  map[string][]*structs.Pod
}

func newTestState(nodes ...*structs.Node) *testState {
	return &testState{nodes: nodes, pods: map[string][]*structs.Pod{}}
}

func (s *testState) Nodes() []*structs.Node { return s.nodes }

func (s *testState) PodsByNode(id string) []*structs.Pod { return s.pods[id] }

// add records pods on their nodes.
func (s *testState) add(pods ...*structs.Pod) *testState {
	for _, p := range pods {
		s.pods[p.NodeID] = append(s.pods[p.NodeID], p)
	}
	return s
}

// usedOn sums the resources of the active pods on a node.
func (s *testState) usedOn(id string) structs.Resources {
	return nodeUsage(s, &structs.Node{ObjectMeta: structs.ObjectMeta{ID: id}}, nil).used
}

// testNode is a ready node in dc1 with the exec driver, linux attributes
// and the given cpu and memory.
func testNode(id string, cpu, mem int) *structs.Node {
	return &structs.Node{
		ObjectMeta:  structs.ObjectMeta{ID: id, Name: "name-" + id},
		Datacenter:  "dc1",
		Status:      structs.NodeStatusReady,
		Eligibility: structs.NodeEligible,
		Resources:   &structs.NodeResources{CPU: cpu, MemoryMB: mem},
		Drivers:     map[string]*structs.DriverInfo{"exec": {Detected: true, Healthy: true}},
		Attributes:  map[string]string{"kernel.name": "linux", "cpu.arch": "amd64"},
	}
}

// with applies changes to a node and returns it.
func with(n *structs.Node, f func(n *structs.Node)) *structs.Node {
	f(n)
	return n
}

// testGroup is a group of one exec task asking for cpu and memory.
func testGroup(name string, cpu, mem int) *structs.TaskGroup {
	return &structs.TaskGroup{
		Name:  name,
		Count: 1,
		Tasks: []*structs.Task{{
			Name:      "main",
			Driver:    "exec",
			Resources: &structs.Resources{CPU: cpu, MemoryMB: mem},
		}},
	}
}

// testJob is a service job of the given groups.
func testJob(id string, groups ...*structs.TaskGroup) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{ID: id, Name: id, Namespace: "default"},
		Type:       structs.JobTypeService,
		Groups:     groups,
	}
}

// testPods makes n unplaced pods of a job's group, IDs prefix-0000...
func testPods(job *structs.Job, group string, n int, prefix string) []*structs.Pod {
	g := job.LookupGroup(group)
	pods := make([]*structs.Pod, n)
	for i := range pods {
		pods[i] = &structs.Pod{
			ObjectMeta:    structs.ObjectMeta{ID: fmt.Sprintf("%s-%04d", prefix, i), Namespace: "default"},
			JobID:         job.ID,
			Group:         group,
			Template:      g,
			Resources:     structs.GroupResources(g),
			DesiredStatus: structs.PodDesiredRun,
			Phase:         structs.PodPhasePending,
		}
	}
	return pods
}

// runningOn returns a copy of p running on node.
func runningOn(p *structs.Pod, node string) *structs.Pod {
	c := *p
	c.NodeID = node
	c.Phase = structs.PodPhaseRunning
	return &c
}

// nodeCounts counts placements per node ID, as "node=count" sorted.
func nodeCounts(ps []Placement) []string {
	m := map[string]int{}
	for _, p := range ps {
		m[p.NodeID]++
	}
	var out []string
	for n, c := range m {
		out = append(out, fmt.Sprintf("%s=%d", n, c))
	}
	sort.Strings(out)
	return out
}
