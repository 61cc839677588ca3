package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	mkclient "github.com/mk-orchestrator/mk/client"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	"github.com/mk-orchestrator/mk/server/httpapi"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// podAgents is a server whose agent also runs a client (as -dev does) and
// a client-only agent, each client with the exec driver in process.
type podAgents struct {
	server   *testutil.Node
	srv      *api.Client // the server's API
	edge     *api.Client // the client-only agent's API
	edgeAddr string
}

func startPodAgents(t *testing.T) *podAgents {
	t.Helper()
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	n := c.Nodes[0]
	own := newExecClient(t, "server-1", n.Config.HTTPAddr())
	n.HTTP.SetLocalPods(own)
	startClient(t, own)

	edgeAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	edge := newExecClient(t, "edge-1", edgeAddr)
	h := httpapi.NewClientOnly(httpapi.ClientAgentInfo{Name: "edge-1", HTTPAddr: edgeAddr, Servers: []string{n.Config.HTTPAddr()}},
		hclog.New(&hclog.LoggerOptions{Name: "edge-1", Level: hclog.Warn, Output: os.Stderr}))
	h.SetLocalPods(edge)
	if err := h.Start(edgeAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	startClient(t, edge)
	return &podAgents{server: n, srv: newClient(t, n), edge: apiClient(t, "http://"+edgeAddr), edgeAddr: edgeAddr}
}

// newExecClient builds a client whose API (and address for the servers)
// is addr: the agent's own HTTP API.
func newExecClient(t *testing.T, name, addr string) *mkclient.Client {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: os.Stderr})
	cl, err := mkclient.New(&mkclient.Config{NodeName: name, Datacenter: "dc1", DataDir: t.TempDir(), Server: addr, Address: addr,
		Drivers: map[string]drivers.Driver{"exec": exec.New(logger)}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func startClient(t *testing.T, cl *mkclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Destroy) // stops the test's processes
}

func apiClient(t *testing.T, addr string) *api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: addr, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// twoTaskJob runs count pods, one per node, each with two sleeping tasks.
func twoTaskJob(name string, count int) *structs.Job {
	task := func(name string) *structs.Task {
		return &structs.Task{Name: name, Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"300"}},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 64}}
	}
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Meta:       map[string]string{"mk.scheduler": "spread"},
		Groups: []*structs.TaskGroup{{Name: "g", Count: count,
			Tasks: []*structs.Task{task("main"), task("side")}}},
	}
}

// runningPods runs job and waits until its pods run on distinct nodes.
func runningPods(t *testing.T, cl *api.Client, job *structs.Job) []*structs.Pod {
	t.Helper()
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job}); err != nil {
		t.Fatal(err)
	}
	want := job.Groups[0].Count
	var out []*structs.Pod
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods(job.Name, nil)
		if err != nil {
			return false, err
		}
		out = out[:0]
		nodes := map[string]bool{}
		for _, p := range pods {
			if p.Phase == structs.PodPhaseRunning && p.DesiredStatus == structs.PodDesiredRun && allTasksRunning(p, 2) {
				out = append(out, p)
				nodes[p.NodeID] = true
			}
		}
		return len(nodes) == want, fmt.Errorf("%d running pods on %d nodes, want %d", len(out), len(nodes), want)
	})
	return out
}

// allTasksRunning reports whether the pod has n tasks and all run: a pod
// is running as soon as one of its tasks is.
func allTasksRunning(p *structs.Pod, n int) bool {
	if len(p.TaskStates) != n {
		return false
	}
	for _, ts := range p.TaskStates {
		if ts.State != structs.TaskStateRunning {
			return false
		}
	}
	return true
}

// statusOf returns the HTTP status of an API error (200 for nil).
func statusOf(err error) int {
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	if err != nil {
		return -1
	}
	return http.StatusOK
}

// TestPodExecAndStatsReachThePodsNode: exec and stats of a pod on the
// server's own client and of one on a client-only agent, asked of either
// agent by ID prefix: the agent that runs the pod answers, the others
// forward to it.
func TestPodExecAndStatsReachThePodsNode(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("exec", 2))
	for _, p := range pods {
		for via, cl := range map[string]*api.Client{"server": a.srv, "edge": a.edge} {
			t.Run(p.NodeName+" via "+via, func(t *testing.T) {
				res, err := cl.PodExec(context.Background(), p.ID[:8], &structs.PodExecBody{Task: "side",
					Command: []string{"/bin/sh", "-c", `echo $MK_POD_NAME $MK_TASK_NAME; echo oops >&2; exit 3`}})
				if err != nil {
					t.Fatal(err)
				}
				if want := p.Name + " side\n"; res.Stdout != want || res.Stderr != "oops\n" || res.ExitCode != 3 {
					t.Fatalf("exec = %+v, want stdout %q, stderr \"oops\\n\", exit 3", res, want)
				}
				stats, err := cl.PodStats(context.Background(), p.ID[:8])
				if err != nil {
					t.Fatal(err)
				}
				if stats.PodID != p.ID || stats.NodeID != p.NodeID || len(stats.Tasks) != 2 {
					t.Fatalf("stats of pod %s on %s: %+v", p.ID, p.NodeID, stats)
				}
				for name, ts := range stats.Tasks {
					if ts.State != structs.TaskStateRunning || ts.Usage == nil || ts.Usage.MemoryUsage == 0 ||
						ts.Limits == nil || ts.Limits.MemoryMB != 64 || ts.Limits.CPU != 100 {
						t.Fatalf("task %s: %+v (usage %+v)", name, ts, ts.Usage)
					}
				}
			})
		}
	}
}

// TestPodExecErrors: bad requests, unknown pods and tasks, timeouts and
// stopped pods map to their status codes, on the pod's own agent and
// through a forward alike.
func TestPodExecErrors(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("errs", 2))
	sleep := []string{"/bin/sleep", "30"}
	tests := []struct {
		name string
		ref  string // "" for the pod under test
		body structs.PodExecBody
		code int
	}{
		{"no task named in a pod of two", "", structs.PodExecBody{Command: []string{"true"}}, 400},
		{"unknown task", "", structs.PodExecBody{Task: "nope", Command: []string{"true"}}, 404},
		{"no command", "", structs.PodExecBody{Task: "main"}, 400},
		{"bad timeout", "", structs.PodExecBody{Task: "main", Command: []string{"true"}, Timeout: "soon"}, 400},
		{"timeout past the limit", "", structs.PodExecBody{Task: "main", Command: []string{"true"}, Timeout: "1h"}, 400},
		{"command outlives its timeout", "", structs.PodExecBody{Task: "main", Command: sleep, Timeout: "100ms"}, 504},
		{"unknown pod", "ffffffff", structs.PodExecBody{Task: "main", Command: []string{"true"}}, 404},
	}
	for _, p := range pods {
		for via, cl := range map[string]*api.Client{"server": a.srv, "edge": a.edge} {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s on %s via %s", tc.name, p.NodeName, via), func(t *testing.T) {
					ref := tc.ref
					if ref == "" {
						ref = p.ID[:8]
					}
					_, err := cl.PodExec(context.Background(), ref, &tc.body)
					if got := statusOf(err); got != tc.code {
						t.Fatalf("status %d (%v), want %d", got, err, tc.code)
					}
				})
			}
		}
	}
	if _, err := a.srv.PodStats(context.Background(), "ffffffff"); statusOf(err) != 404 {
		t.Fatalf("stats of an unknown pod: %v, want 404", err)
	}

	// A stopped pod: no exec, no stats (409), from its node or forwarded.
	victim := pods[0]
	if err := a.srv.StopPod(context.Background(), victim.ID); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*api.Client{a.srv, a.edge} {
		testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
			_, err := cl.PodExec(context.Background(), victim.ID, &structs.PodExecBody{Task: "main", Command: []string{"true"}})
			return statusOf(err) == 409, fmt.Errorf("exec in a stopped pod: %v, want 409", err)
		})
		if _, err := cl.PodStats(context.Background(), victim.ID); statusOf(err) != 409 {
			t.Fatalf("stats of a stopped pod: %v, want 409", err)
		}
	}
}

// TestPodRouteForwardedToTheWrongNode: a request a server forwarded to an
// agent that does not run the pod fails (400) instead of going round.
func TestPodRouteForwardedToTheWrongNode(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("hops", 2))
	for _, p := range pods {
		// The agent that does not run p.
		base := "http://" + a.edgeAddr
		if p.NodeName == "edge-1" {
			base = a.server.Addr()
		}
		for _, route := range []struct{ method, path, body string }{
			{"GET", "/v1/pod/" + p.ID + "/stats", ""},
			{"GET", "/v1/pod/" + p.ID + "/logs?task=main", ""},
			{"POST", "/v1/pod/" + p.ID + "/exec", `{"Task": "main", "Command": ["true"]}`},
		} {
			req, err := http.NewRequest(route.method, base+route.path, strings.NewReader(route.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(httpapi.HeaderForwarded, "server-9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s at %s: %s, want 400", route.method, route.path, base, resp.Status)
			}
		}
	}
}
