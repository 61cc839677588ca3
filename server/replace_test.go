package server

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// TestDesiredStopDecisions: what a controller pass sets on the pods of an
// owner: a failed or lost pod that is replaced names its replacement; a
// stopped job stops every pod; an old replica set's finished pods stop.
func TestDesiredStopDecisions(t *testing.T) {
	const (
		failed, lost, succeeded, running = structs.PodPhaseFailed, structs.PodPhaseLost, structs.PodPhaseSucceeded, structs.PodPhaseRunning
		stop, run                        = structs.PodDesiredStop, structs.PodDesiredRun
	)
	service := func(count int, stopped bool) (*structs.Job, *structs.JobObjects) {
		j := gcJob("web", structs.JobTypeService, 1, stopped)
		j.Groups[0].Count = count
		return j, &structs.JobObjects{Deployments: []*structs.Deployment{{ObjectMeta: structs.ObjectMeta{ID: "web-g", Namespace: "default"}, ReplicaSetID: "rs1", Replicas: count,
			Status: structs.DeploymentStatusSuccessful}},
			ReplicaSets: []*structs.ReplicaSet{{ObjectMeta: structs.ObjectMeta{ID: "rs1", Namespace: "default"}, JobID: "web", DeploymentID: "web-g",
				Replicas: count, Template: j.Groups[0]}, {ObjectMeta: structs.ObjectMeta{ID: "rs0", Namespace: "default"}, JobID: "web", DeploymentID: "web-g",
				Replicas: count, Template: j.Groups[0]}}}
	}
	lostPod := gcPod("l", "web", "rs1", lost, stop, 0)
	lostPod.DesiredReason = "node down"
	type want struct {
		desired, reason string
		replaced        bool // ReplacedBy names a pod this pass created
	}
	tests := []struct {
		name    string
		count   int
		stopped bool
		pods    []*structs.Pod
		want    map[string]want
		created int
	}{
		{"a failed pod is replaced", 2, false, []*structs.Pod{gcPod("a", "web", "rs1", running, run, 0), gcPod("f", "web", "rs1", failed, run, 0)},
			map[string]want{"a": {run, "", false}, "f": {stop, reasonReplaced, true}}, 1},
		{"a lost pod keeps its reason", 1, false, []*structs.Pod{lostPod},
			map[string]want{"l": {stop, "node down", true}}, 1},
		{"a scale-up replaces nothing", 3, false, []*structs.Pod{gcPod("a", "web", "rs1", running, run, 0), gcPod("b", "web", "rs1", running, run, 0)},
			map[string]want{"a": {run, "", false}, "b": {run, "", false}}, 1},
		{"the oldest failure is replaced first", 1, false, []*structs.Pod{gcPod("new", "web", "rs1", failed, run, 0), gcPod("old", "web", "rs1", failed, run, 5)},
			map[string]want{"new": {run, "", false}, "old": {stop, reasonReplaced, true}}, 1},
		{"job stop stops every pod, terminal ones too", 2, true, []*structs.Pod{gcPod("a", "web", "rs1", running, run, 0),
			gcPod("f", "web", "rs1", failed, run, 0), gcPod("s", "web", "rs1", succeeded, run, 0)},
			map[string]want{"a": {stop, reasonJobStopped, false}, "f": {stop, reasonJobStopped, false}, "s": {stop, reasonJobStopped, false}}, 0},
		{"an old replica set's finished pods stop", 1, false, []*structs.Pod{gcPod("a", "web", "rs1", running, run, 0),
			gcPod("f", "web", "rs0", failed, run, 0), gcPod("r", "web", "rs0", running, run, 0)},
			map[string]want{"a": {run, "", false}, "f": {stop, reasonScaledDown, false}, "r": {run, reasonRolledOut, false}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job, objs := service(tc.count, tc.stopped)
			v := testView([]*structs.Job{job}, []*structs.JobObjects{objs}, tc.pods)
			c := newPodChanges(gcNow)
			v.reconcileOwners(c)
			created := map[string]bool{}
			for _, p := range c.list() {
				if p.CreateIndex == 0 && p.CreateTime == gcNow {
					created[p.ID] = true
				}
			}
			if len(created) != tc.created {
				t.Fatalf("created %d pods, want %d", len(created), tc.created)
			}
			for _, p := range tc.pods {
				got, w := c.current(p), tc.want[p.ID]
				if got.DesiredStatus != w.desired || got.DesiredReason != w.reason || created[got.ReplacedBy] != w.replaced {
					t.Errorf("pod %s: %s %q replaced by %q, want %+v", p.ID, got.DesiredStatus, got.DesiredReason, got.ReplacedBy, w)
				}
			}
		})
	}
}

// TestSystemReplacementOnItsNode: a system group's failed pod is replaced
// by the new pod of its own node, not of another.
func TestSystemReplacementOnItsNode(t *testing.T) {
	job := gcJob("sys", structs.JobTypeSystem, 0, false)
	node := func(id string) *structs.Node {
		return &structs.Node{ObjectMeta: structs.ObjectMeta{ID: id}, Status: structs.NodeStatusReady, Datacenter: "dc1",
			Eligibility: structs.NodeEligible, Drivers: map[string]*structs.DriverInfo{"exec": {Detected: true, Healthy: true}}}
	}
	f := gcPod("f", "sys", "sys-g", structs.PodPhaseFailed, structs.PodDesiredRun, 0)
	f.NodeID = "n2"
	v := testView([]*structs.Job{job}, nil, []*structs.Pod{f}, node("n1"), node("n2"))
	c := newPodChanges(gcNow)
	v.reconcileOwners(c)
	var onN2 string
	for _, p := range c.list() {
		if p.PinnedNodeID == "n2" {
			onN2 = p.ID
		}
	}
	if got := c.current(f); onN2 == "" || got.ReplacedBy != onN2 || got.DesiredReason != reasonReplaced {
		t.Fatalf("failed pod on n2: replaced by %q (reason %q), new pod there %q", got.ReplacedBy, got.DesiredReason, onN2)
	}
}
