package scheduler

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// checkCase is one row of a checker table test.
type checkCase struct {
	name   string
	cand   Candidate
	ok     bool
	reason string
}

func runCheckCases(t *testing.T, ch Checker, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cand
			if c.Node == nil {
				c.Node = testNode("n1", 1000, 1000)
			}
			if c.Job == nil {
				c.Job = testJob("web")
			}
			if c.Group == nil {
				c.Group = testGroup("g", 100, 100)
			}
			ok, reason := ch.Check(&c)
			if ok != tc.ok || reason != tc.reason {
				t.Fatalf("Check = (%v, %q), want (%v, %q)", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}

func TestReadyChecker(t *testing.T) {
	runCheckCases(t, ReadyChecker{}, []checkCase{
		{name: "ready", ok: true},
		{name: "down", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Status = structs.NodeStatusDown
		})}, reason: "node not ready"},
		{name: "initializing", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Status = structs.NodeStatusInit
		})}, reason: "node not ready"},
		{name: "ineligible", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Eligibility = structs.NodeIneligible
		})}, reason: "node not ready"},
		{name: "draining", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Drain = true
		})}, reason: "node not ready"},
	})
}

func TestDatacenterChecker(t *testing.T) {
	dcJob := func(dcs ...string) *structs.Job {
		j := testJob("web")
		j.Datacenters = dcs
		return j
	}
	runCheckCases(t, DatacenterChecker{}, []checkCase{
		{name: "no datacenters means any", ok: true},
		{name: "wildcard", cand: Candidate{Job: dcJob("dc9", "*")}, ok: true},
		{name: "match", cand: Candidate{Job: dcJob("dc2", "dc1")}, ok: true},
		{name: "one mismatch", cand: Candidate{Job: dcJob("dc2")}, reason: `not in datacenter "dc2"`},
		{name: "several mismatch", cand: Candidate{Job: dcJob("dc2", "dc3")},
			reason: `not in datacenters "dc2", "dc3"`},
	})
}

func TestDriverChecker(t *testing.T) {
	twoTasks := testGroup("g", 1, 1)
	twoTasks.Tasks = append(twoTasks.Tasks, &structs.Task{Name: "side", Driver: "docker"})
	unhealthy := with(testNode("n", 1, 1), func(n *structs.Node) {
		n.Drivers["docker"] = &structs.DriverInfo{Detected: true, HealthDescription: "daemon down"}
	})
	undetected := with(testNode("n", 1, 1), func(n *structs.Node) {
		n.Drivers["docker"] = &structs.DriverInfo{}
	})
	healthy := with(testNode("n", 1, 1), func(n *structs.Node) {
		n.Drivers["docker"] = &structs.DriverInfo{Detected: true, Healthy: true}
	})
	runCheckCases(t, DriverChecker{}, []checkCase{
		{name: "has driver", ok: true},
		{name: "second task missing", cand: Candidate{Group: twoTasks}, reason: `missing driver "docker"`},
		{name: "unhealthy", cand: Candidate{Group: twoTasks, Node: unhealthy}, reason: `driver "docker" unhealthy`},
		{name: "not detected", cand: Candidate{Group: twoTasks, Node: undetected}, reason: `missing driver "docker"`},
		{name: "both healthy", cand: Candidate{Group: twoTasks, Node: healthy}, ok: true},
		{name: "no drivers at all", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Drivers = nil
		})}, reason: `missing driver "exec"`},
	})
}

func TestResourceChecker(t *testing.T) {
	gpuNode := with(testNode("n", 1000, 1000), func(n *structs.Node) { n.Resources.GPUs = 2 })
	res := func(cpu, mem, gpus int) structs.Resources {
		return structs.Resources{CPU: cpu, MemoryMB: mem, GPUs: gpus}
	}
	runCheckCases(t, ResourceChecker{}, []checkCase{
		{name: "empty node", cand: Candidate{Ask: res(100, 100, 0)}, ok: true},
		{name: "exact fit", cand: Candidate{Ask: res(400, 300, 0), Used: res(600, 700, 0)}, ok: true},
		{name: "cpu", cand: Candidate{Ask: res(401, 300, 0), Used: res(600, 700, 0)}, reason: "cpu exhausted"},
		{name: "memory", cand: Candidate{Ask: res(100, 301, 0), Used: res(600, 700, 0)}, reason: "memory exhausted"},
		{name: "cpu reported first", cand: Candidate{Ask: res(2000, 2000, 0)}, reason: "cpu exhausted"},
		{name: "no gpus", cand: Candidate{Ask: res(1, 1, 1)}, reason: "gpus exhausted"},
		{name: "gpus fit", cand: Candidate{Node: gpuNode, Ask: res(1, 1, 1), Used: res(0, 0, 1)}, ok: true},
		{name: "gpus taken", cand: Candidate{Node: gpuNode, Ask: res(1, 1, 1), Used: res(0, 0, 2)}, reason: "gpus exhausted"},
		{name: "nil resources", cand: Candidate{Node: with(testNode("n", 1, 1), func(n *structs.Node) {
			n.Resources = nil
		}), Ask: res(0, 1, 0)}, reason: "memory exhausted"},
	})
}

func TestDistinctHostsChecker(t *testing.T) {
	runCheckCases(t, DistinctHostsChecker{}, []checkCase{
		{name: "none there", ok: true},
		{name: "one there", cand: Candidate{Collocated: 1}, reason: "distinct_hosts"},
	})
}

func TestDynamicCheckers(t *testing.T) {
	g := testGroup("g", 1, 1)
	if got := len(dynamicCheckers(g)); got != 1 {
		t.Fatalf("without distinct_hosts: %d checkers, want 1", got)
	}
	g.Constraints = []*structs.Constraint{{Operator: "distinct_hosts", Value: "true"}}
	if _, ok := dynamicCheckers(g)[0].(DistinctHostsChecker); !ok {
		t.Fatalf("with distinct_hosts: first checker is %T", dynamicCheckers(g)[0])
	}
	g.Constraints[0].Value = "false"
	if got := len(dynamicCheckers(g)); got != 1 {
		t.Fatalf("distinct_hosts = false: %d checkers, want 1", got)
	}
}
