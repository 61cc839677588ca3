package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func job(name string) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Groups: []*structs.TaskGroup{{Name: "g", Count: 2,
			Network:  &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}},
			Services: []*structs.ServiceSpec{{Name: name + "-svc", Port: "http"}},
			Tasks: []*structs.Task{{Name: "t", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"9"}},
				Resources: &structs.Resources{CPU: 100, MemoryMB: 32}}}}},
	}
}

func newClient(t *testing.T, n *testutil.Node) *api.Client {
	c, err := api.NewClient(api.Config{Address: n.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawRequest sends a request and returns status, headers and body.
func rawRequest(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(buf)
}

// metricValue is the value of an unlabelled metric in Prometheus text, or
// -1 when it is missing.
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func TestErrorsMapToStatusCodes(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	base := c.Nodes[0].Addr()
	cl := newClient(t, c.Nodes[0])
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("web")}); err != nil {
		t.Fatal(err)
	}
	badMemory := job("bad")
	badMemory.Groups[0].Tasks[0].Resources.MemoryMB = 0
	badJSON, _ := json.Marshal(&structs.JobRegisterBody{Job: badMemory})
	stale, _ := json.Marshal(&structs.JobRegisterBody{Job: job("web"), EnforceIndex: true, JobModifyIndex: 1})
	function := job("fn")
	function.Type = structs.JobTypeFunction
	functionJSON, _ := json.Marshal(&structs.JobRegisterBody{Job: function})
	functionPlan, _ := json.Marshal(map[string]any{"Job": function})

	tests := []struct {
		name, method, path, body string
		code                     int
		wantField                string
	}{
		{"invalid job", "POST", "/v1/jobs", string(badJSON), 400, `job "bad" group "g" task "t" resources.memory`},
		{"not json", "POST", "/v1/jobs", "{nope", 400, ""},
		{"unsupported type", "POST", "/v1/jobs", string(functionJSON), 400, `job "fn" type`},
		{"unsupported type in a plan", "POST", "/v1/job/fn/plan", string(functionPlan), 400, `job "fn" type`},
		{"unknown field", "POST", "/v1/jobs", `{"Job": {"Name": "x"}, "Bogus": 1}`, 400, ""},
		{"no job", "POST", "/v1/jobs", `{}`, 400, "Job"},
		{"stale index", "POST", "/v1/jobs", string(stale), 409, ""},
		{"missing job", "GET", "/v1/job/nope", "", 404, ""},
		{"missing versions", "GET", "/v1/job/nope/versions", "", 404, ""},
		{"stop missing job", "DELETE", "/v1/job/nope", "", 404, ""},
		{"bad index param", "GET", "/v1/jobs?index=abc", "", 400, "index"},
		{"bad wait param", "GET", "/v1/jobs?index=1&wait=soon", "", 400, "wait"},
		{"path and body disagree", "POST", "/v1/job/other", `{"Job": {"Name": "web"}}`, 400, "Job.ID"},
		{"remove unknown peer", "DELETE", "/v1/operator/raft/peer?id=nope", "", 404, ""},
		{"restore garbage", "PUT", "/v1/operator/snapshot", "garbage", 400, ""},
		{"unknown route", "GET", "/v1/nope", "", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := rawRequest(t, tc.method, base+tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
			if tc.path == "/v1/nope" {
				return // the mux's own 404 is plain text
			}
			var e struct{ Error, Field string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("error body %q is not {\"error\": ...}", body)
			}
			if e.Field != tc.wantField {
				t.Fatalf("field = %q, want %q (error %q)", e.Field, tc.wantField, e.Error)
			}
		})
	}
	// None of that panicked the server.
	_, _, metrics := rawRequest(t, "GET", base+"/v1/metrics", "")
	if !strings.Contains(metrics, "mk_http_panics_total 0") {
		t.Fatal("a request panicked the server")
	}
	for _, want := range []string{"mk_raft_apply_seconds_count", `mk_fsm_apply_seconds_count{command="JobRegister"}`,
		`mk_http_requests_total{code="409",route="POST /v1/jobs"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The leader's controllers time their passes (the first, on gaining
	// leadership, is a full one) and count the pods they create: web's two
	// at least (the counter is shared by the servers of this process).
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		_, _, metrics := rawRequest(t, "GET", base+"/v1/metrics", "")
		if !strings.Contains(metrics, `mk_controller_pass_seconds_count{kind="full"}`) {
			return false, fmt.Errorf("no controller pass in the metrics")
		}
		created := metricValue(metrics, "mk_controller_pods_created_total")
		return created >= 2, fmt.Errorf("mk_controller_pods_created_total = %v, want >= 2", created)
	})
}

// TestFollowerForwardsAndStaleReads: a write sent to a follower lands via
// the leader; a consistent read through a follower sees it at once.
func TestFollowerForwardsAndStaleReads(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	follower := c.Nodes[(c.Leader()+1)%3]
	cl := newClient(t, follower)
	resp, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("web")})
	if err != nil {
		t.Fatal(err)
	}
	got, meta, err := cl.Job("web", nil)
	if err != nil || got.JobModifyIndex != resp.JobModifyIndex || meta.LastIndex < resp.Index {
		t.Fatalf("consistent read through follower: %v %+v", err, meta)
	}
	testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
		j, _, err := cl.Job("web", &api.QueryOptions{Stale: true})
		return err == nil && j.Version == 0, err
	})
	leader, err := cl.StatusLeader()
	if err != nil || leader != c.Nodes[c.Leader()].Config.RaftAddr() {
		t.Fatalf("status/leader = %q, %v", leader, err)
	}
	peers, err := cl.StatusPeers()
	if err != nil || len(peers) != 3 {
		t.Fatalf("status/peers = %v, %v", peers, err)
	}
}

// TestBlockingQueryOverHTTP: ?index=N waits for the next write.
func TestBlockingQueryOverHTTP(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	resp, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("web")})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan uint64, 1)
	go func() {
		_, meta, err := cl.ListJobs(&api.QueryOptions{WaitIndex: resp.Index, WaitTime: 10 * time.Second})
		if err != nil {
			done <- 0
			return
		}
		done <- meta.LastIndex
	}()
	select {
	case <-done:
		t.Fatal("blocking query returned before any write")
	case <-time.After(200 * time.Millisecond):
	}
	second, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("api")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case idx := <-done:
		if idx != second.Index {
			t.Fatalf("woke with index %d, want %d", idx, second.Index)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocking query did not wake on the write")
	}
}

// TestSnapshotSaveRestore: a saved snapshot restored later brings back
// the state as it was, on every server.
func TestSnapshotSaveRestore(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("keep")}); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := cl.SnapshotSave(context.Background(), &snap); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("later")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeregisterJob(context.Background(), "keep", true); err != nil {
		t.Fatal(err)
	}
	if err := cl.SnapshotRestore(context.Background(), bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		ncl := newClient(t, n)
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			_, _, errKeep := ncl.Job("keep", &api.QueryOptions{Stale: true})
			_, _, errLater := ncl.Job("later", &api.QueryOptions{Stale: true})
			var apiErr *api.Error
			gone := errors.As(errLater, &apiErr) && apiErr.StatusCode == 404
			return errKeep == nil && gone, errors.Join(errKeep, errLater)
		})
	}
	// A truncated snapshot is refused and changes nothing.
	err := cl.SnapshotRestore(context.Background(), bytes.NewReader(snap.Bytes()[:snap.Len()-10]))
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("truncated snapshot: %v, want 400", err)
	}
	if _, _, err := cl.Job("keep", nil); err != nil {
		t.Fatalf("state changed by a refused restore: %v", err)
	}
}

// TestPlanShowsDiff: plan reports added objects for a new job, nothing for
// an unchanged one and field changes for an edit.
func TestPlanShowsDiff(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	plan, err := cl.PlanJob(context.Background(), job("web"))
	if err != nil || plan.Type != structs.DiffAdded || len(plan.Objects) != 3 {
		t.Fatalf("plan of new job: %+v, %v", plan, err)
	}
	// The scheduler's dry run: no node to place the pods on.
	if g := plan.Placements["g"]; g == nil || *g != (structs.PlanGroupSummary{Place: 2}) {
		t.Fatalf("dry run placements %+v, want 2 to place in g", plan.Placements)
	}
	if f := plan.FailedPlacements["g"]; f == nil || f.Failed != 2 || !slices.Equal(f.Reasons, []string{"no nodes registered"}) {
		t.Fatalf("dry run failures %+v, want 2 in g: no nodes registered", plan.FailedPlacements)
	}
	body, err := json.Marshal(&structs.JobPlanBody{Job: job("web")})
	if err != nil {
		t.Fatal(err)
	}
	code, _, raw := rawRequest(t, http.MethodPost, c.Nodes[0].Addr()+"/v1/job/web/plan", string(body))
	wantJSON := `"Placements":{"g":{"Place":2,"Replace":0,"Stop":0,"Keep":0}},"FailedPlacements":{"g":{"Failed":2,"Reasons":["no nodes registered"]}}`
	if code != http.StatusOK || !strings.Contains(raw, wantJSON) {
		t.Fatalf("POST plan: %d %s\nwant it to hold %s", code, raw, wantJSON)
	}
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job("web")}); err != nil {
		t.Fatal(err)
	}
	plan, err = cl.PlanJob(context.Background(), job("web"))
	if err != nil || plan.Type != structs.DiffNone {
		t.Fatalf("plan of unchanged job: %+v, %v", plan, err)
	}
	edited := job("web")
	edited.Groups[0].Count = 5
	plan, err = cl.PlanJob(context.Background(), edited)
	if err != nil || plan.Type != structs.DiffEdited {
		t.Fatalf("plan of edited job: %+v, %v", plan, err)
	}
	var replicas bool
	for _, o := range plan.Objects {
		for _, f := range o.Fields {
			if o.Kind == structs.KindReplicaSet && f.Path == "Replicas" && f.Old == "2" && f.New == "5" {
				replicas = true
			}
		}
	}
	if !replicas {
		t.Fatalf("plan does not show Replicas 2 => 5: %+v", plan.Objects)
	}
}

// TestNodeRegisterAndPurge: a registered node gets its /24 of the pod
// CIDR pool and the cluster's network; a ready node cannot be purged
// (409), an unknown one is 404, and a purged node's /24 goes to the next.
func TestNodeRegisterAndPurge(t *testing.T) {
	// A node that stops heartbeating is down within a second.
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(_ int, cfg *server.Config) {
		cfg.HeartbeatTTL, cfg.HeartbeatGrace = 200*time.Millisecond, 200*time.Millisecond
	}})
	cl := newClient(t, c.Nodes[0])
	ctx := context.Background()
	node := func(id string) *structs.Node {
		return &structs.Node{ObjectMeta: structs.ObjectMeta{ID: id, Name: id}, Resources: &structs.NodeResources{CPU: 1000, MemoryMB: 1024}}
	}
	resp, err := cl.RegisterNode(ctx, node("n1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.PodCIDR != "10.42.0.0/24" || resp.Network == nil || resp.Network.PodCIDRPool != structs.DefaultPodCIDRPool ||
		resp.Network.ServiceCIDR != structs.DefaultServiceCIDR {
		t.Fatalf("register answered %+v (network %+v)", resp, resp.Network)
	}
	if err := cl.PurgeNode(ctx, "n1"); statusOf(err) != http.StatusConflict {
		t.Fatalf("purge of a ready node: %v, want 409", err)
	}
	if err := cl.PurgeNode(ctx, "nope"); statusOf(err) != http.StatusNotFound {
		t.Fatalf("purge of an unknown node: %v, want 404", err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		n, err := cl.Node("n1", nil)
		if err != nil {
			return false, err
		}
		return n.Status == structs.NodeStatusDown, fmt.Errorf("node n1 is %s, want down (no heartbeats)", n.Status)
	})
	if err := cl.PurgeNode(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Node("n1", nil); statusOf(err) != http.StatusNotFound {
		t.Fatalf("purged node still read: %v", err)
	}
	if resp, err = cl.RegisterNode(ctx, node("n2")); err != nil || resp.PodCIDR != "10.42.0.0/24" {
		t.Fatalf("next node got %+v, %v; want the freed 10.42.0.0/24", resp, err)
	}
}
