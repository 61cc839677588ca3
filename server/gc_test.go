package server

import (
	"slices"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// gcNow is the time of the collections below.
const gcNow = int64(100 * time.Hour)

// testView builds a controller view of jobs, their objects and pods.
func testView(jobs []*structs.Job, objs []*structs.JobObjects, pods []*structs.Pod, nodes ...*structs.Node) *view {
	v := &view{nodes: map[string]*structs.Node{}, podsByOwner: map[string][]*structs.Pod{},
		objects: map[string]*structs.JobObjects{}, jobByKey: map[string]*structs.Job{}, jobs: jobs, pods: pods, podIDs: newPodIDs()}
	for i, j := range jobs {
		v.jobByKey[key(j.Namespace, j.ID)] = j
		if i < len(objs) {
			v.objects[key(j.Namespace, j.ID)] = objs[i]
		}
	}
	for _, n := range nodes {
		v.nodes[n.ID] = n
	}
	v.indexPods()
	return v
}

func gcJob(id, typ string, version uint64, stopped bool) *structs.Job {
	return &structs.Job{ObjectMeta: structs.ObjectMeta{ID: id, Namespace: structs.DefaultNamespace}, Type: typ,
		Version: version, Stop: stopped, Groups: []*structs.TaskGroup{{Name: "g", Count: 1,
			Tasks: []*structs.Task{{Name: "t", Driver: "exec"}}}}}
}

// gcPod is a pod of owner that changed ago before gcNow.
func gcPod(id, job, owner, phase, desired string, ago time.Duration) *structs.Pod {
	return &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: id, Namespace: structs.DefaultNamespace}, JobID: job,
		OwnerID: owner, NodeID: "n1", Phase: phase, DesiredStatus: desired, ModifyTime: gcNow - int64(ago)}
}

func TestCollectPods(t *testing.T) {
	const (
		failed, succeeded, running = structs.PodPhaseFailed, structs.PodPhaseSucceeded, structs.PodPhaseRunning
		stop, run                  = structs.PodDesiredStop, structs.PodDesiredRun
	)
	web := gcJob("web", structs.JobTypeService, 0, false)
	batch := gcJob("b", structs.JobTypeBatch, 0, false)
	stoppedBatch := gcJob("sb", structs.JobTypeBatch, 0, true)
	pol := gcPolicy{threshold: time.Hour, keep: 2}
	tests := []struct {
		name string
		pol  gcPolicy
		pods []*structs.Pod
		want []string
	}{
		{"terminal and stopped past the threshold", pol, []*structs.Pod{
			gcPod("old", "web", "rs", failed, stop, 2*time.Hour), gcPod("new", "web", "rs", failed, stop, time.Minute)}, []string{"old"}},
		{"never a pod wanted running or not terminal", pol, []*structs.Pod{
			gcPod("failed-run", "web", "rs", failed, run, 2*time.Hour), gcPod("stopping", "web", "rs", running, stop, 2*time.Hour)}, nil},
		{"beyond keep, outside the backoff window", pol, []*structs.Pod{
			gcPod("a", "web", "rs", failed, stop, 20*time.Minute), gcPod("b", "web", "rs", failed, stop, 30*time.Minute),
			gcPod("c", "web", "rs", failed, stop, 40*time.Minute), gcPod("d", "web", "rs", failed, stop, 50*time.Minute)}, []string{"c", "d"}},
		{"beyond keep but inside the backoff window", pol, []*structs.Pod{
			gcPod("a", "web", "rs", failed, stop, time.Minute), gcPod("b", "web", "rs", failed, stop, 2*time.Minute),
			gcPod("c", "web", "rs", failed, stop, 3*time.Minute)}, nil},
		{"keep counts per owner", pol, []*structs.Pod{
			gcPod("a", "web", "rs1", failed, stop, 20*time.Minute), gcPod("b", "web", "rs1", failed, stop, 30*time.Minute),
			gcPod("c", "web", "rs2", failed, stop, 40*time.Minute), gcPod("d", "web", "rs2", failed, stop, 50*time.Minute)}, nil},
		{"force takes every stopped terminal pod", gcPolicy{threshold: time.Hour, keep: 2, force: true}, []*structs.Pod{
			gcPod("a", "web", "rs", failed, stop, 0), gcPod("b", "web", "rs", succeeded, stop, 0), gcPod("c", "web", "rs", failed, run, 0)},
			[]string{"a", "b"}},
		{"a running batch job keeps its record", gcPolicy{threshold: time.Hour, force: true}, []*structs.Pod{
			gcPod("a", "b", "b-g", failed, stop, 2*time.Hour), gcPod("b", "b", "b-g", succeeded, run, 2*time.Hour)}, nil},
		{"a stopped batch job's pods go", pol, []*structs.Pod{
			gcPod("a", "sb", "sb-g", succeeded, stop, 2*time.Hour)}, []string{"a"}},
		{"pods of a purged job go", pol, []*structs.Pod{
			gcPod("a", "gone", "gone-g", failed, stop, 2*time.Hour)}, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testView([]*structs.Job{web, batch, stoppedBatch}, nil, tc.pods)
			var got []string
			for _, id := range v.collectPods(tc.pol, gcNow) {
				got = append(got, id.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("collected %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCollectReplicaSets(t *testing.T) {
	rs := func(id string, version uint64, replicas int) *structs.ReplicaSet {
		return &structs.ReplicaSet{ObjectMeta: structs.ObjectMeta{ID: id, Namespace: structs.DefaultNamespace},
			JobID: "web", JobVersion: version, Replicas: replicas}
	}
	objs := func(current string, sets ...*structs.ReplicaSet) *structs.JobObjects {
		return &structs.JobObjects{Deployments: []*structs.Deployment{{ReplicaSetID: current}}, ReplicaSets: sets}
	}
	last := uint64(state.MaxJobVersions + 2)
	live := gcPod("p", "web", "kept", structs.PodPhaseRunning, structs.PodDesiredRun, 0)
	tests := []struct {
		name    string
		stopped bool
		objs    *structs.JobObjects
		pods    []*structs.Pod
		want    []structs.ReplicaSetUpdate
	}{
		{"an old replica set scales to zero", false, objs("cur", rs("cur", last, 3), rs("old", last-1, 2)), nil,
			[]structs.ReplicaSetUpdate{{Namespace: "default", JobID: "web", ID: "old"}}},
		{"the current one is never touched, at zero neither", false, objs("cur", rs("cur", 0, 0)), nil, nil},
		{"an old one at zero stays while its version is kept", false, objs("cur", rs("cur", last, 3), rs("old", last-state.MaxJobVersions+1, 0)), nil, nil},
		{"beyond the kept versions it is deleted", false, objs("cur", rs("cur", last, 3), rs("old", last-state.MaxJobVersions, 0)), nil,
			[]structs.ReplicaSetUpdate{{Namespace: "default", JobID: "web", ID: "old", Delete: true}}},
		{"not while a pod of it runs", false, objs("cur", rs("cur", last, 3), rs("kept", 0, 0)), []*structs.Pod{live}, nil},
		{"a stopped job has no objects to collect", true, objs("cur", rs("cur", last, 3), rs("old", 0, 2)), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testView([]*structs.Job{gcJob("web", structs.JobTypeService, last, tc.stopped)}, []*structs.JobObjects{tc.objs}, tc.pods)
			if got := v.collectReplicaSets(); !slices.Equal(got, tc.want) {
				t.Fatalf("updates %+v, want %+v", got, tc.want)
			}
		})
	}
}
