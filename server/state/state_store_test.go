package state

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
)

func testJob(name string, count int) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: structs.DefaultNamespace},
		Type:       structs.JobTypeService,
		Groups: []*structs.TaskGroup{{
			Name:     "web",
			Count:    count,
			Scaling:  &structs.ScalingPolicy{Min: 1, Max: 5, CPUPercent: 60},
			Network:  &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 80}}},
			Services: []*structs.ServiceSpec{{Name: name + "-svc", Port: "http", Type: structs.ServiceTypeClusterIP}},
			Ingress:  &structs.IngressSpec{Host: "a.local", Paths: []*structs.IngressPath{{Path: "/", Service: name + "-svc", Port: 80}}},
			Tasks: []*structs.Task{{Name: "main", Driver: "exec",
				Config:    &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"60"}},
				Resources: &structs.Resources{CPU: 100, MemoryMB: 64}}},
		}},
	}
}

// registerReq builds a register request the way the server does, decoded
// from its log encoding so the store owns it.
func registerReq(t *testing.T, job *structs.Job) *structs.JobRegisterRequest {
	t.Helper()
	objs, err := jobspecs.Translate(job)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := structs.Encode(structs.JobRegisterRequestType, &structs.JobRegisterRequest{Job: job, Objects: objs})
	if err != nil {
		t.Fatal(err)
	}
	var req structs.JobRegisterRequest
	if err := structs.Decode(buf[1:], &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

func newStore(t *testing.T) *StateStore {
	t.Helper()
	s, err := NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUpsertJobVersionsAndObjects(t *testing.T) {
	s := newStore(t)
	resp, err := s.UpsertJob(10, registerReq(t, testJob("web", 2)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != 0 || resp.JobModifyIndex != 10 || resp.Unchanged {
		t.Fatalf("first register: %+v", resp)
	}
	for _, table := range []string{TableJobs, TableJobVersions, TableDeployments, TableReplicaSets, TableServices, TableAutoscalers, TableIngresses} {
		if got := s.Index(table); got != 10 {
			t.Errorf("index of %s = %d, want 10", table, got)
		}
	}

	// The same spec again changes nothing.
	resp, err = s.UpsertJob(11, registerReq(t, testJob("web", 2)))
	if err != nil || !resp.Unchanged || resp.Version != 0 || s.Index(TableJobs) != 10 {
		t.Fatalf("unchanged register: %+v, %v, index %d", resp, err, s.Index(TableJobs))
	}

	// A count change: new version, same replica set (count is not part of
	// the template), replicas updated.
	resp, err = s.UpsertJob(12, registerReq(t, testJob("web", 3)))
	if err != nil || resp.Version != 1 {
		t.Fatalf("count change: %+v, %v", resp, err)
	}
	objs, _ := s.ObjectsByJob(nil, "default", "web")
	if len(objs.ReplicaSets) != 1 || objs.ReplicaSets[0].Replicas != 3 || objs.ReplicaSets[0].CreateIndex != 10 {
		t.Fatalf("replica sets after count change: %+v", objs.ReplicaSets)
	}

	// A template change: a second replica set; the old one stays.
	job := testJob("web", 3)
	job.Groups[0].Tasks[0].Config.Args = []string{"120"}
	if _, err := s.UpsertJob(13, registerReq(t, job)); err != nil {
		t.Fatal(err)
	}
	objs, _ = s.ObjectsByJob(nil, "default", "web")
	if len(objs.ReplicaSets) != 2 || objs.Deployments[0].JobVersion != 2 {
		t.Fatalf("after template change: %d replica sets, deployment version %d", len(objs.ReplicaSets), objs.Deployments[0].JobVersion)
	}
	versions, _ := s.JobVersions(nil, "default", "web")
	if len(versions) != 3 || versions[0].Version != 2 || versions[2].Version != 0 {
		t.Fatalf("versions: %d, newest %d", len(versions), versions[0].Version)
	}
}

func TestUpsertJobEnforceIndex(t *testing.T) {
	s := newStore(t)
	req := registerReq(t, testJob("web", 1))
	req.EnforceIndex, req.JobModifyIndex = true, 5
	if _, err := s.UpsertJob(10, req); !errors.Is(err, structs.ErrIndexConflict) {
		t.Fatalf("new job with index 5: %v, want conflict", err)
	}
	req = registerReq(t, testJob("web", 1))
	req.EnforceIndex = true
	if _, err := s.UpsertJob(10, req); err != nil {
		t.Fatalf("new job with index 0: %v", err)
	}
	req = registerReq(t, testJob("web", 2))
	req.EnforceIndex = true
	if _, err := s.UpsertJob(11, req); !errors.Is(err, structs.ErrIndexConflict) {
		t.Fatalf("existing job with index 0: %v, want conflict", err)
	}
	req = registerReq(t, testJob("web", 2))
	req.EnforceIndex, req.JobModifyIndex = true, 10
	if _, err := s.UpsertJob(11, req); err != nil {
		t.Fatalf("matching index: %v", err)
	}
}

func TestServiceNameOwnedByAnotherJob(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(10, registerReq(t, testJob("a", 1))); err != nil {
		t.Fatal(err)
	}
	other := testJob("b", 1)
	other.Groups[0].Services[0].Name = "a-svc"
	_, err := s.UpsertJob(11, registerReq(t, other))
	if !errors.Is(err, structs.ErrBadRequest) {
		t.Fatalf("service taken by another job: %v, want bad request", err)
	}
	if j, _ := s.JobByID(nil, "default", "b"); j != nil {
		t.Fatal("a failed register left the job behind")
	}
}

// Deployments and replica sets are keyed by their job: two jobs whose
// objects' names meet ("a-b" group "c", "a" group "b-c": both deployments
// are "a-b-c") each keep their own, and stopping one leaves the other's.
func TestJobScopedObjectsOfTwoJobs(t *testing.T) {
	s := newStore(t)
	first := testJob("a-b", 1)
	first.Groups[0].Name = "c"
	second := testJob("a", 1)
	second.Groups[0].Name = "b-c"
	for i, j := range []*structs.Job{first, second} {
		if _, err := s.UpsertJob(uint64(10+i), registerReq(t, j)); err != nil {
			t.Fatal(err)
		}
	}
	deployments := func(job string) []string {
		objs, err := s.ObjectsByJob(nil, structs.DefaultNamespace, job)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range objs.Deployments {
			out = append(out, d.JobID+":"+d.ID)
		}
		return out
	}
	if a, ab := deployments("a"), deployments("a-b"); !slices.Equal(a, []string{"a:a-b-c"}) || !slices.Equal(ab, []string{"a-b:a-b-c"}) {
		t.Fatalf("deployments of a: %v, of a-b: %v", a, ab)
	}
	if n := countRows(t, s, TableDeployments); n != 2 {
		t.Fatalf("%d deployments stored, want 2", n)
	}
	if err := s.DeregisterJob(12, &structs.JobDeregisterRequest{Namespace: structs.DefaultNamespace, JobID: "a"}); err != nil {
		t.Fatal(err)
	}
	if a, ab := deployments("a"), deployments("a-b"); len(a) != 0 || !slices.Equal(ab, []string{"a-b:a-b-c"}) {
		t.Fatalf("after stopping a: deployments of a: %v, of a-b: %v", a, ab)
	}
	rs, err := List[*structs.ReplicaSet](s, nil, TableReplicaSets, structs.DefaultNamespace)
	if err != nil || len(rs) != 1 || rs[0].JobID != "a-b" {
		t.Fatalf("replica sets after stopping a: %v, %v", rs, err)
	}
}

// A stopped job has no objects, so a register that starts it again writes
// new ones (UpsertJob skips looking for stored ones) with the register's
// index as their CreateIndex.
func TestRestartedJobHasNewObjects(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(10, registerReq(t, testJob("web", 1))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeregisterJob(11, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertJob(12, registerReq(t, testJob("web", 1))); err != nil {
		t.Fatal(err)
	}
	objs, _ := s.ObjectsByJob(nil, "default", "web")
	if len(objs.Deployments) != 1 || len(objs.ReplicaSets) != 1 || len(objs.Services) != 1 {
		t.Fatalf("objects after restart: %d deployments, %d replica sets, %d services",
			len(objs.Deployments), len(objs.ReplicaSets), len(objs.Services))
	}
	for _, m := range []structs.ObjectMeta{objs.Deployments[0].ObjectMeta, objs.ReplicaSets[0].ObjectMeta, objs.Services[0].ObjectMeta} {
		if m.CreateIndex != 12 || m.ModifyIndex != 12 {
			t.Errorf("%s: create index %d, modify index %d, want 12 and 12", m.ID, m.CreateIndex, m.ModifyIndex)
		}
	}
}

func TestDeregisterStopAndPurge(t *testing.T) {
	s := newStore(t)
	for i, name := range []string{"web", "web2"} {
		if _, err := s.UpsertJob(uint64(10+i), registerReq(t, testJob(name, 1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeregisterJob(20, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web"}); err != nil {
		t.Fatal(err)
	}
	job, _ := s.JobByID(nil, "default", "web")
	objs, _ := s.ObjectsByJob(nil, "default", "web")
	if !job.Stop || job.Status != structs.JobStatusDead || job.Version != 1 {
		t.Fatalf("stopped job: stop=%v status=%s version=%d", job.Stop, job.Status, job.Version)
	}
	if n := len(objs.Deployments) + len(objs.ReplicaSets) + len(objs.Services) + len(objs.Autoscalers) + len(objs.Ingresses); n != 0 {
		t.Fatalf("stopped job keeps %d objects", n)
	}
	if err := s.DeregisterJob(21, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true}); err != nil {
		t.Fatal(err)
	}
	if job, _ := s.JobByID(nil, "default", "web"); job != nil {
		t.Fatal("purged job still there")
	}
	if v, _ := s.JobVersions(nil, "default", "web"); len(v) != 0 {
		t.Fatalf("purged job keeps %d versions", len(v))
	}
	if v, _ := s.JobVersions(nil, "default", "web2"); len(v) != 1 {
		t.Fatalf("purging web removed versions of web2: %d left", len(v))
	}
	err := s.DeregisterJob(22, &structs.JobDeregisterRequest{Namespace: "default", JobID: "nope"})
	if !errors.Is(err, structs.ErrNotFound) {
		t.Fatalf("deregister of a missing job: %v", err)
	}
}

func TestJobVersionsArePruned(t *testing.T) {
	s := newStore(t)
	for i := 0; i < MaxJobVersions+5; i++ {
		if _, err := s.UpsertJob(uint64(10+i), registerReq(t, testJob("web", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	versions, _ := s.JobVersions(nil, "default", "web")
	if len(versions) != MaxJobVersions || versions[0].Version != MaxJobVersions+4 {
		t.Fatalf("%d versions kept, newest %d", len(versions), versions[0].Version)
	}
	for i, v := range versions {
		if want := uint64(MaxJobVersions + 4 - i); v.Version != want {
			t.Fatalf("version %d at %d, want %d", v.Version, i, want)
		}
	}
	// Only the versions before the current one are in job_versions.
	if n := countRows(t, s, TableJobVersions); n != MaxJobVersions-1 {
		t.Fatalf("job_versions holds %d rows, want %d", n, MaxJobVersions-1)
	}
	// A pod of an older kept version still finds its group.
	pod := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1", Namespace: "default"}, JobID: "web", Group: "web",
		JobVersion: MaxJobVersions, DesiredStatus: structs.PodDesiredRun}
	commit(t, s, func(txn *WriteTxn) error { return txn.UpsertPods(100, []*structs.Pod{pod}) })
	if p, _ := s.PodByID(nil, "default", "p1"); p == nil || p.Template == nil || p.Template.Name != "web" {
		t.Fatalf("pod of version %d: %+v", MaxJobVersions, p)
	}
}

// A snapshot of format 1 also holds a job's current version in
// job_versions: restored, it is listed once, and later versions and a
// purge handle it.
func TestJobVersionsOfFormat1Snapshot(t *testing.T) {
	old := newStore(t)
	for i := 0; i < 2; i++ {
		if _, err := old.UpsertJob(uint64(10+i), registerReq(t, testJob("web", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := old.JobByID(nil, "default", "web")
	commit(t, old, func(txn *WriteTxn) error { return txn.at(20).upsert(TableJobVersions, cur) })
	var buf bytes.Buffer
	if err := old.Snapshot().persist(&buf, 1); err != nil {
		t.Fatal(err)
	}
	s, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	versionList := func() []uint64 {
		versions, _ := s.JobVersions(nil, "default", "web")
		var out []uint64
		for _, v := range versions {
			out = append(out, v.Version)
		}
		return out
	}
	if got := versionList(); len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("restored versions %v, want [1 0]", got)
	}
	if _, err := s.UpsertJob(30, registerReq(t, testJob("web", 5))); err != nil {
		t.Fatal(err)
	}
	if got := versionList(); len(got) != 3 || got[0] != 2 || got[2] != 0 {
		t.Fatalf("versions after an update %v, want [2 1 0]", got)
	}
	if err := s.DeregisterJob(31, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true}); err != nil {
		t.Fatal(err)
	}
	if got := versionList(); len(got) != 0 || countRows(t, s, TableJobVersions) != 0 {
		t.Fatalf("after purge: versions %v, %d rows", got, countRows(t, s, TableJobVersions))
	}
}

// Purging a job still at its first version (no row in job_versions) moves
// the versions table's index, so blocking queries on its history wake.
func TestPurgeOfFirstVersionMovesVersionsIndex(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(10, registerReq(t, testJob("web", 1))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeregisterJob(11, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true}); err != nil {
		t.Fatal(err)
	}
	if got := s.Index(TableJobVersions); got != 11 {
		t.Fatalf("job_versions index %d after the purge at 11", got)
	}
}

// webJobQuery reads job "web" and the jobs table's index.
func webJobQuery(ws memdb.WatchSet, st *StateStore) (any, uint64, error) {
	j, err := st.JobByID(ws, "default", "web")
	return j, st.Index(TableJobs), err
}

func TestBlockingQuery(t *testing.T) {
	s := newStore(t)
	current := func() *StateStore { return s }
	query := webJobQuery
	// Unblocks when a write passes the index.
	req := registerReq(t, testJob("web", 1))
	go func() { _, _ = s.UpsertJob(7, req) }()
	res, index, err := BlockingQuery(context.Background(), current, 1, 10*time.Second, query)
	if err != nil || index != 7 || res.(*structs.Job) == nil {
		t.Fatalf("blocking query: %v, index %d", err, index)
	}
	// Times out with the unchanged result.
	start := time.Now()
	_, index, err = BlockingQuery(context.Background(), current, 7, 100*time.Millisecond, query)
	if err != nil || index != 7 || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("timeout: %v, index %d after %s", err, index, time.Since(start))
	}
}

// A write that commits between a query's data read and its index read
// must not show in the index only: the client would block on an index it
// has passed and miss the write. The query reads one point in time, and
// its watch still fires on the write.
func TestBlockingQueryDataAndIndexAgree(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(5, registerReq(t, testJob("other", 1))); err != nil {
		t.Fatal(err)
	}
	current := func() *StateStore { return s }
	wrote := false
	query := func(ws memdb.WatchSet, st *StateStore) (any, uint64, error) {
		j, err := st.JobByID(ws, "default", "web")
		if !wrote {
			wrote = true // the FSM commits right between the two reads
			if _, err := s.UpsertJob(6, registerReq(t, testJob("web", 1))); err != nil {
				t.Fatal(err)
			}
		}
		return j, st.Index(TableJobs), err
	}
	res, index, err := BlockingQuery(context.Background(), current, 0, 0, query)
	if err != nil || res.(*structs.Job) != nil || index != 5 {
		t.Fatalf("first read: job %v at index %d (%v), want no job at 5", res, index, err)
	}
	// Blocking at 5, the next query returns the job at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, index, err = BlockingQuery(ctx, current, 5, time.Minute, query)
	if err != nil || res.(*structs.Job) == nil || index != 6 {
		t.Fatalf("second read: job %v at index %d (%v), want the job at 6", res, index, err)
	}
}

// A query of a table never written answers index 1, not 0, so a client
// that asks again with that index blocks until the first write instead of
// spinning.
func TestBlockingQueryOfEmptyTableBlocks(t *testing.T) {
	s := newStore(t)
	current := func() *StateStore { return s }
	query := webJobQuery
	_, index, err := BlockingQuery(context.Background(), current, 0, 0, query)
	if err != nil || index != 1 {
		t.Fatalf("empty table: index %d (%v), want 1", index, err)
	}
	start := time.Now()
	if _, again, _ := BlockingQuery(context.Background(), current, index, 100*time.Millisecond, query); again != 1 || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("asked again at index %d: returned index %d after %s, want to block", index, again, time.Since(start))
	}
	go func() { _, _ = s.UpsertJob(7, registerReq(t, testJob("web", 1))) }()
	res, index, err := BlockingQuery(context.Background(), current, index, 10*time.Second, query)
	if err != nil || index != 7 || res.(*structs.Job) == nil {
		t.Fatalf("after the first write: index %d (%v)", index, err)
	}
}

func TestBlockingQueryWakesOnRestore(t *testing.T) {
	old := newStore(t)
	if _, err := old.UpsertJob(5, registerReq(t, testJob("web", 1))); err != nil {
		t.Fatal(err)
	}
	restored := newStore(t)
	if _, err := restored.UpsertJob(9, registerReq(t, testJob("web", 2))); err != nil {
		t.Fatal(err)
	}
	cur := old
	swapped := make(chan struct{})
	current := func() *StateStore {
		select {
		case <-swapped:
			return restored
		default:
			return cur
		}
	}
	go func() {
		close(swapped)
		old.Abandon()
	}()
	_, index, err := BlockingQuery(context.Background(), current, 5, 10*time.Second,
		func(ws memdb.WatchSet, st *StateStore) (any, uint64, error) {
			j, err := st.JobByID(ws, "default", "web")
			return j, st.Index(TableJobs), err
		})
	if err != nil || index != 9 {
		t.Fatalf("after restore: index %d, %v", index, err)
	}
}

// TestSnapshotRoundTrip fills every table of the schema, persists and
// restores, and compares table by table. A new table that the snapshot
// code does not carry fails here.
func TestSnapshotRoundTrip(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(10, registerReq(t, testJob("web", 2))); err != nil {
		t.Fatal(err)
	}
	job := testJob("web", 3)
	job.Groups[0].Tasks[0].Env = map[string]string{"A": "1"}
	if _, err := s.UpsertJob(11, registerReq(t, job)); err != nil {
		t.Fatal(err)
	}
	txn := s.WriteTxn()
	node := &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "n1", Name: "node-1"}, Status: structs.NodeStatusReady,
		Resources: &structs.NodeResources{CPU: 4000, MemoryMB: 8192}, Drivers: map[string]*structs.DriverInfo{"exec": {Detected: true, Healthy: true}}}
	if err := txn.UpsertNode(12, node, ""); err != nil {
		t.Fatal(err)
	}
	pod := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1", Name: "web-web-0", Namespace: "default"}, JobID: "web",
		Group: "web", OwnerKind: structs.OwnerReplicaSet, OwnerID: "rs", NodeID: "n1", DesiredStatus: structs.PodDesiredRun}
	if err := txn.UpsertPods(12, []*structs.Pod{pod}); err != nil {
		t.Fatal(err)
	}
	eps := &structs.Endpoints{ObjectMeta: structs.ObjectMeta{ID: "web-svc", Name: "web-svc", Namespace: "default"}, JobID: "web",
		Endpoints: []*structs.Endpoint{{PodID: "p1", PodName: "web-web-0", NodeID: "n1", IP: "10.42.0.2", Ports: map[string]int{"http": 80}, Ready: true}}}
	if err := txn.UpdateEndpoints(12, &structs.EndpointsUpdateRequest{Upserts: []*structs.Endpoints{eps}}); err != nil {
		t.Fatal(err)
	}
	if err := txn.RecordJobEvents(13, []*structs.JobEvent{{JobID: "web", Topic: structs.TopicDeployment, Type: "RolloutStep", Time: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	for name := range schema().Tables {
		if n := countRows(t, s, name); n == 0 {
			t.Fatalf("fixture leaves table %q empty; add a row so the round trip covers it", name)
		}
	}
	var buf bytes.Buffer
	if err := s.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for name := range schema().Tables {
		if a, b := dumpTable(t, s, name), dumpTable(t, r, name); !reflect.DeepEqual(a, b) {
			t.Errorf("table %s differs after restore:\n%#v\n%#v", name, a, b)
		}
	}
}

func TestRestoreRejectsNewerFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := structs.NewEncoder(&buf).Encode(&snapshotHeader{Version: SnapshotFormatVersion + 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(&buf); err == nil {
		t.Fatal("a snapshot of a newer format was accepted")
	}
}

func countRows(t *testing.T, s *StateStore, table string) int {
	return len(dumpTable(t, s, table))
}

func dumpTable(t *testing.T, s *StateStore, table string) []any {
	t.Helper()
	it, err := s.db.Txn(false).Get(table, IndexID)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw)
	}
	return out
}

// TestReplicaSetTemplateFromJob: the log carries a replica set without its
// template; the store points it at the job's group.
func TestReplicaSetTemplateFromJob(t *testing.T) {
	s := newStore(t)
	req := registerReq(t, testJob("web", 2))
	req.Objects.ReplicaSets[0].Template = nil
	if _, err := s.UpsertJob(10, req); err != nil {
		t.Fatal(err)
	}
	objs, _ := s.ObjectsByJob(nil, "default", "web")
	tmpl := objs.ReplicaSets[0].Template
	if tmpl == nil || tmpl.Name != "web" || len(tmpl.Tasks) != 1 {
		t.Fatalf("replica set template = %+v", tmpl)
	}
}
