package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func scaledJob(name string) *structs.Job {
	j := job(name)
	j.Groups[0].Count = 1
	j.Groups[0].Scaling = &structs.ScalingPolicy{Min: 1, Max: 4, CPUPercent: 50, ScaleUpCooldown: "500ms", ScaleDownCooldown: "2s"}
	return j
}

// TestJobScaleAPI: PUT /v1/job/{id}/scale sets a group's count without a
// new version; bad requests are 400 or 404 naming what is wrong.
func TestJobScaleAPI(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl := newClient(t, c.Nodes[0])
	ctx := context.Background()
	for _, j := range []*structs.Job{scaledJob("web"), job("plain")} {
		if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: j}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := cl.ScaleJob(ctx, "web", "g", 3, "ahead of a sale")
	if err != nil || res.Previous != 1 {
		t.Fatalf("scale web to 3: %+v, %v", res, err)
	}
	if got := replicas(t, cl, "web"); got != 3 {
		t.Fatalf("web replicas %d, want 3", got)
	}
	if j, _, err := cl.Job("web", nil); err != nil || j.Version != 0 {
		t.Fatalf("web after a scale: version %d, %v; want 0", j.Version, err)
	}
	ev, err := c.Nodes[0].Server.State().JobEvents(nil, structs.DefaultNamespace, "web")
	if err != nil || len(ev) != 1 || ev[0].Type != structs.EventScale || ev[0].Message != "scaled from 1 to 3 by hand: ahead of a sale" ||
		ev[0].Details["previous"] != "1" || ev[0].Details["count"] != "3" {
		t.Fatalf("events after a scale by hand: %s, %v", eventList(ev), err)
	}
	addr := c.Nodes[0].Addr()
	bad := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"above max", "PUT", "/v1/job/web/scale", `{"Group":"g","Count":5}`, 400,
			`count of group \"g\" must be between its scaling.min (1) and scaling.max (4), got 5`},
		{"negative", "POST", "/v1/job/plain/scale", `{"Group":"g","Count":-1}`, 400, `count of group \"g\" must be \u003e= 0, got -1`},
		{"no count", "PUT", "/v1/job/web/scale", `{"Group":"g"}`, 400, `"field":"Count"`},
		{"no group", "PUT", "/v1/job/web/scale", `{"Count":2}`, 400, `"field":"Group"`},
		{"unknown group", "PUT", "/v1/job/web/scale", `{"Group":"db","Count":2}`, 404, `group \"db\" of job \"web\" not found`},
		{"unknown job", "PUT", "/v1/job/nope/scale", `{"Group":"g","Count":2}`, 404, `job \"nope\" not found`},
		{"bad usage interval", "PUT", "/v1/node/n1/pods/usage", `{"Interval":"often"}`, 400, `"field":"Interval"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := rawRequest(t, tc.method, addr+tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%s %s: %d %s; want %d with %s", tc.method, tc.path, code, body, tc.code, tc.want)
			}
		})
	}
}

func replicas(t *testing.T, cl *api.Client, jobID string) int {
	t.Helper()
	objs, err := cl.JobObjects(jobID, nil)
	if err != nil || len(objs.Deployments) != 1 {
		t.Fatalf("deployments of %s: %+v, %v", jobID, objs, err)
	}
	return objs.Deployments[0].Replicas
}

// TestAutoscalerDecides: with usage reported through the API by a
// simulated client, the leader's autoscaler scales a group out (at most
// to max), records each decision with its inputs, holds the count within
// the tolerance, and scales in to min once the load is gone and the
// window passed.
func TestAutoscalerDecides(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(_ int, cfg *server.Config) {
		cfg.AutoscaleInterval = 100 * time.Millisecond
	}})
	addr := c.Nodes[0].Addr()
	sim, err := testutil.NewStoppedSimNode(addr, "sim", []string{"exec"}, structs.NodeResources{CPU: 8000, MemoryMB: 8192})
	if err != nil {
		t.Fatal(err)
	}
	sim.Fill = func(p *structs.Pod, u *structs.PodStatusUpdate) { u.Healthy = true }
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Stop)
	cl := newClient(t, c.Nodes[0])
	ctx := context.Background()
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: scaledJob("web")}); err != nil {
		t.Fatal(err)
	}
	// The simulated client's usage reports: each running pod uses load
	// percent of its 100 MHz.
	var load atomic.Int64
	load.Store(100)
	reportCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go reportUsage(reportCtx, cl, sim.Node.ID, &load)

	events := func() []*structs.JobEvent {
		ev, err := c.Nodes[0].Server.State().JobEvents(nil, structs.DefaultNamespace, "web")
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	waitFor := func(what string, want int, event string) *structs.JobEvent {
		t.Helper()
		var found *structs.JobEvent
		testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
			found = nil
			for _, e := range events() {
				if e.Type == event && e.Details["desired"] == fmt.Sprint(want) {
					found = e
				}
			}
			got := replicas(t, cl, "web")
			if got > 4 {
				t.Fatalf("replicas %d past max 4", got)
			}
			return got == want && found != nil, fmt.Errorf("%s: replicas %d, want %d with a %s event; events %s", what, got, want, event, eventList(events()))
		})
		return found
	}
	out := waitFor("scale-out", 2, structs.EventScaleOut)
	if out.Topic != structs.TopicAutoscaler || out.Details["current"] != "1" || out.Details["usage"] != "cpu 100%" || out.Details["target"] != "cpu 50%" {
		t.Fatalf("scale-out event %+v", out)
	}
	waitFor("scale-out to max", 4, structs.EventScaleOut)
	// 54% of a 50% target: 4 pods would make ceil(4.32) = 5, but that is
	// within the 10% tolerance: a "no change" that says so.
	load.Store(54)
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		for _, e := range events() {
			if e.Type == structs.EventNoChange && strings.Contains(e.Details["reason"], "within 10% of the target") {
				return true, nil
			}
		}
		return false, fmt.Errorf("no tolerance event; events %s", eventList(events()))
	})
	load.Store(0)
	in := waitFor("scale-in", 1, structs.EventScaleIn)
	if in.Details["current"] != "4" || in.Details["usage"] != "cpu 0%" {
		t.Fatalf("scale-in event %+v", in)
	}
}

// reportUsage is a simulated client's usage reporting: every 100 ms,
// each running pod of the job at load percent of its CPU.
func reportUsage(ctx context.Context, cl *api.Client, nodeID string, load *atomic.Int64) {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		pods, _, err := cl.Pods("web", &api.QueryOptions{Context: ctx})
		if err != nil {
			continue
		}
		var usage []*structs.PodUsage
		for _, p := range pods {
			if p.Phase == structs.PodPhaseRunning && p.NodeID == nodeID {
				usage = append(usage, &structs.PodUsage{Namespace: p.Namespace, PodID: p.ID, Time: time.Now().UnixNano(), Tasks: 1,
					CPUMHz: math.Round(float64(load.Load()) * float64(p.Resources.CPU) / 100)})
			}
		}
		// A failed report is dropped, as the client drops it: the next
		// one is fresher.
		_ = cl.ReportPodUsage(ctx, nodeID, &structs.PodUsageBody{Interval: "100ms", Usage: usage})
	}
}

func eventList(events []*structs.JobEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %s %s", e.Type, e.Message)
	}
	return b.String()
}
