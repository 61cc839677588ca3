package server

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// planNode is a ready node with the exec driver and the given cpu.
func planNode(id string, cpu int) *structs.Node {
	return &structs.Node{
		ObjectMeta: structs.ObjectMeta{ID: id, Name: id}, Datacenter: "dc1", Address: "127.0.0.1:6646",
		Status: structs.NodeStatusReady, Eligibility: structs.NodeEligible,
		Resources: &structs.NodeResources{CPU: cpu, MemoryMB: 4096},
		Drivers:   map[string]*structs.DriverInfo{"exec": {Detected: true, Healthy: true}},
	}
}

// planJob is service job "web" of one group "web": count exec pods of
// the given cpu, changed by f.
func planJob(count, cpu int, f func(g *structs.TaskGroup)) *structs.Job {
	g := &structs.TaskGroup{Name: "web", Count: count, Tasks: []*structs.Task{{
		Name: "main", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"},
		Resources: &structs.Resources{CPU: cpu, MemoryMB: 64},
	}}}
	if f != nil {
		f(g)
	}
	return &structs.Job{ObjectMeta: structs.ObjectMeta{ID: "web", Name: "web"}, Type: structs.JobTypeService, Groups: []*structs.TaskGroup{g}}
}

// planState is a store with nodes and, unless job is nil, the job
// registered with running pods on the first node: the first pending ones
// unplaced.
func planState(t *testing.T, nodes []*structs.Node, job *structs.Job, running, pending int) *state.StateStore {
	t.Helper()
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	txn := st.WriteTxn()
	defer txn.Abort()
	index := uint64(10)
	for _, n := range nodes {
		if err := txn.UpsertNode(index, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	if job != nil {
		objs, err := prepareJob(job)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := txn.UpsertJob(index+1, &structs.JobRegisterRequest{Job: job, Objects: objs}); err != nil {
			t.Fatal(err)
		}
		var pods []*structs.Pod
		for i := range running + pending {
			p := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: fmt.Sprintf("pod-%d", i), Namespace: job.Namespace},
				JobID: job.ID, Group: "web", OwnerKind: structs.OwnerReplicaSet, OwnerID: objs.ReplicaSets[0].ID,
				Resources: structs.GroupResources(job.Groups[0]), DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhasePending}
			if i >= pending {
				p.NodeID, p.Phase = nodes[0].ID, structs.PodPhaseRunning
			}
			pods = append(pods, p)
		}
		if err := txn.UpsertPods(index+2, pods); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPlanDryRun(t *testing.T) {
	one := []*structs.Node{planNode("n1", 1000)}
	docker := func(g *structs.TaskGroup) {
		g.Tasks[0].Driver, g.Tasks[0].Config = "docker", &structs.TaskConfig{Image: "x"}
	}
	static := func(g *structs.TaskGroup) {
		g.Network = &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", Static: 9090}}}
	}
	changed := func(g *structs.TaskGroup) { g.Tasks[0].Env = map[string]string{"V": "2"} }
	canary := func(g *structs.TaskGroup) {
		changed(g)
		g.Update = &structs.UpdateStrategy{MaxSurge: 1, Canary: 1}
	}
	two := []*structs.Node{planNode("n1", 1000), planNode("n2", 50)}
	system := func(j *structs.Job) *structs.Job { j.Type = structs.JobTypeSystem; return j }
	cases := []struct {
		name       string
		st         *state.StateStore
		plan       *structs.Job
		placements structs.PlanGroupSummary
		failed     int
		reasons    []string
	}{
		{name: "new job", st: planState(t, one, nil, 0, 0), plan: planJob(2, 100, nil),
			placements: structs.PlanGroupSummary{Place: 2}},
		{name: "no node has the driver", st: planState(t, one, nil, 0, 0), plan: planJob(2, 100, docker),
			placements: structs.PlanGroupSummary{Place: 2}, failed: 2, reasons: []string{`no node has driver "docker"`}},
		{name: "more cpu than any node", st: planState(t, one, nil, 0, 0), plan: planJob(1, 100000, nil),
			placements: structs.PlanGroupSummary{Place: 1}, failed: 1, reasons: []string{"cpu exhausted on 1 node"}},
		{name: "a static port twice on one node", st: planState(t, one, nil, 0, 0), plan: planJob(2, 100, static),
			placements: structs.PlanGroupSummary{Place: 2}, failed: 1, reasons: []string{"port 9090 already in use on 1 node"}},
		{name: "unchanged", st: planState(t, one, planJob(2, 100, nil), 2, 0), plan: planJob(2, 100, nil),
			placements: structs.PlanGroupSummary{Keep: 2}},
		{name: "scale up", st: planState(t, one, planJob(2, 100, nil), 2, 0), plan: planJob(3, 100, nil),
			placements: structs.PlanGroupSummary{Place: 1, Keep: 2}},
		{name: "scale down", st: planState(t, one, planJob(3, 100, nil), 3, 0), plan: planJob(1, 100, nil),
			placements: structs.PlanGroupSummary{Stop: 2, Keep: 1}},
		{name: "template change replaces, in the room of the pods it stops",
			st: planState(t, one, planJob(2, 400, nil), 2, 0), plan: planJob(2, 400, changed),
			placements: structs.PlanGroupSummary{Replace: 2}},
		{name: "canaries start beside the old pods", st: planState(t, one, planJob(2, 100, nil), 2, 0), plan: planJob(2, 100, canary),
			placements: structs.PlanGroupSummary{Place: 1, Keep: 2, Canaries: 1}},
		{name: "pods waiting for room are placed again", st: planState(t, one, planJob(2, 100, nil), 1, 1), plan: planJob(2, 100, nil),
			placements: structs.PlanGroupSummary{Place: 1, Keep: 1}},
		{name: "running pods hold their room", st: planState(t, one, planJob(2, 400, nil), 2, 0), plan: planJob(3, 400, nil),
			placements: structs.PlanGroupSummary{Place: 1, Keep: 2}, failed: 1, reasons: []string{"cpu exhausted on 1 node"}},
		{name: "system job: a pod per node, placed only where it fits", st: planState(t, two, nil, 0, 0),
			plan: system(planJob(1, 100, nil)), placements: structs.PlanGroupSummary{Place: 2},
			failed: 1, reasons: []string{`cpu exhausted on node "n2"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.st.LatestIndex()
			plan, err := planOn(tc.st, tc.plan)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Placements["web"]; got == nil || *got != tc.placements || len(plan.Placements) != 1 {
				t.Fatalf("placements %v, want web: %+v", plan.Placements, tc.placements)
			}
			var failed int
			var reasons []string
			if f := plan.FailedPlacements["web"]; f != nil {
				failed, reasons = f.Failed, f.Reasons
			}
			if failed != tc.failed || !reflect.DeepEqual(reasons, tc.reasons) {
				t.Fatalf("failed %d %q, want %d %q", failed, reasons, tc.failed, tc.reasons)
			}
			if after := tc.st.LatestIndex(); after != before {
				t.Fatalf("the dry run wrote: index %d -> %d", before, after)
			}
		})
	}
}

// planOn runs the dry run of job on a snapshot of st, as PlanJob does.
func planOn(st *state.StateStore, job *structs.Job) (*structs.JobPlan, error) {
	objs, err := prepareJob(job)
	if err != nil {
		return nil, err
	}
	plan := &structs.JobPlan{}
	return plan, dryRun(st.View(), job, objs, plan)
}

// TestPlanKeepsAScaledCount: a group with scaling whose count the
// autoscaler (or `job scale`) changed shows no count change in the plan
// of the same file: the run keeps it.
func TestPlanKeepsAScaledCount(t *testing.T) {
	job := planJob(2, 100, func(g *structs.TaskGroup) { g.Scaling = &structs.ScalingPolicy{Min: 1, Max: 10, CPUPercent: 60} })
	stored, err := prepareJob(structs.Copy(job))
	if err != nil {
		t.Fatal(err)
	}
	stored.Deployments[0].Replicas = 4 // scaled out since the run
	desired, err := prepareJob(structs.Copy(job))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffObjects(stored, desired); !hasEdit(diff, structs.KindDeployment) {
		t.Fatalf("without keeping: %+v, want the deployment's count to differ (the test would prove nothing)", diff)
	}
	keepControllerState(stored, desired, job)
	if got := desired.Deployments[0].Replicas; got != 4 {
		t.Fatalf("planned count %d, want the scaled 4", got)
	}
	if diff := diffObjects(stored, desired); hasEdit(diff, structs.KindDeployment) {
		t.Fatalf("the plan of the same file changes the deployment: %+v", diff)
	}
}

func hasEdit(diffs []*structs.ObjectDiff, kind string) bool {
	for _, d := range diffs {
		if d.Kind == kind && d.Type != structs.DiffNone {
			return true
		}
	}
	return false
}
