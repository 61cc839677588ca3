//go:build bench

package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// autoscaleResult is bench/results/autoscale.json.
type autoscaleResult struct {
	// ScaleOutS is the median time from the start of a CPU load until
	// the pods the autoscaler added are ready endpoints of the service.
	ScaleOutS float64 `json:"scale_out_s"`
	// DecidedS is the median time until the autoscaler wrote the new
	// count (the rest is starting the pods and passing their checks).
	DecidedS float64 `json:"decided_s"`
	MaxS     float64 `json:"max_s"`
	Runs     int     `json:"runs"`
	// Settings are the intervals that bound the reaction: mk's defaults.
	Settings string `json:"settings"`
	Load     string `json:"load"`
}

// TestBenchAutoscale times the autoscaler's reaction on `mk agent -dev`
// with the default intervals (pods sampled every 5 s, decisions every
// 5 s): the autoscale example (busybox httpd, /cgi-bin/burn burns CPU per
// request; 1 to 3 pods at 50 % of 100 MHz) runs with one pod, then 5
// requests a second go to its ClusterIP; the clock runs from the first
// request until the service has as many ready endpoints as the
// autoscaler asked for. Each run is a fresh job.
func TestBenchAutoscale(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: the dev agent's client makes the pod network")
	}
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("MK_BENCH_AUTOSCALE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	addr, pid := testutil.StartDevAgent(t, "client {\n  enabled = true\n  driver \"docker\" {\n    enabled = false\n  }\n}\n")
	t.Cleanup(func() {
		if t.Failed() {
			// The agent's log is its stdout.
			log, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fd/1", pid))
			t.Logf("agent log:\n%s", tail(string(log), 60))
		}
	})
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	var outs, decided []time.Duration
	var table [][]string
	for i := 1; i <= runs; i++ {
		dec, ready, to := autoscaleRun(t, addr, cl)
		outs, decided = append(outs, ready), append(decided, dec)
		table = append(table, []string{strconv.Itoa(i), fmt.Sprintf("%.1f", dec.Seconds()), fmt.Sprintf("%.1f", ready.Seconds()), strconv.Itoa(to)})
	}
	fmt.Println("\nautoscale: 1 exec pod under an HTTP load of 5 requests/s (CPU burnt per request); s from the first request")
	printTable([]string{"run", "count raised", "new pods ready endpoints", "count"}, table)
	sortDurations(outs)
	sortDurations(decided)
	res := autoscaleResult{ScaleOutS: outs[(len(outs)-1)/2].Seconds(), DecidedS: decided[(len(decided)-1)/2].Seconds(),
		MaxS: outs[len(outs)-1].Seconds(), Runs: len(outs), Settings: "stats_interval 5s, autoscale_interval 5s (defaults)", Load: loadAvg()}
	verdict := "met"
	if res.ScaleOutS > 30 {
		verdict = "MISSED"
	}
	fmt.Printf("median %.1f s (max %.1f s) over %d runs (load %s); target scale-out <= 30 s: %s\n", res.ScaleOutS, res.MaxS, res.Runs, res.Load, verdict)
	writeResults(t, "autoscale", res)
}

// autoscaleRun runs the example once: it returns when, after the load
// started, the deployment's count was raised and the service had that
// many ready endpoints, and the count.
func autoscaleRun(t *testing.T, addr string, cl *api.Client) (decided, ready time.Duration, count int) {
	t.Helper()
	out, err := exec.Command(testutil.MkBinary(t), "job", "run", "-address", addr, "../jobspecs/examples/autoscale.hcl").CombinedOutput()
	if err != nil {
		t.Fatalf("mk job run: %v: %s", err, out)
	}
	svc, err := cl.Service(structs.DefaultNamespace, "burn", nil)
	if err != nil || svc.ClusterIP == "" || len(svc.Ports) != 1 {
		t.Fatalf("service burn: %+v, %v", svc, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if watchReadyEndpoints(ctx, cl, 1).IsZero() {
		t.Fatal("the service never had its first ready endpoint")
	}
	t.Logf("%s: the job runs with 1 ready endpoint", time.Now().Format(time.StampMilli))
	raised := make(chan time.Time, 1)
	go func() { raised <- watchCountRaised(ctx, cl) }()
	load := testutil.StartHTTPLoad("http://"+net.JoinHostPort(svc.ClusterIP, strconv.Itoa(svc.Ports[0].Port))+"/cgi-bin/burn", 5)
	start := time.Now()
	at := <-raised
	if at.IsZero() {
		load.Stop()
		t.Fatalf("%s: the autoscaler did not raise the count within 2 minutes (%d requests answered, %d failed)",
			time.Now().Format(time.StampMilli), load.OK.Load(), load.Failed.Load())
	}
	objs, err := cl.JobObjects("burn", nil)
	if err != nil || len(objs.Deployments) != 1 {
		t.Fatalf("deployments: %+v, %v", objs, err)
	}
	count = objs.Deployments[0].Replicas
	end := watchReadyEndpoints(ctx, cl, count)
	load.Stop()
	if end.IsZero() {
		t.Fatalf("%d ready endpoints not reached within 2 minutes", count)
	}
	if _, err := cl.DeregisterJob(context.Background(), "burn", true); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, func() (bool, error) {
		pods, _, err := cl.Pods("burn", nil)
		if err != nil {
			return false, err
		}
		live := 0
		for _, p := range pods {
			if !p.Terminal() {
				live++
			}
		}
		return live == 0, fmt.Errorf("%d pods of burn not stopped", live)
	})
	return at.Sub(start), end.Sub(start), count
}

// watchReadyEndpoints returns when the service burn has n ready
// endpoints, by blocking query (zero when ctx ends first).
func watchReadyEndpoints(ctx context.Context, cl *api.Client, n int) time.Time {
	var index uint64
	for ctx.Err() == nil {
		eps, meta, err := cl.Endpoints(structs.DefaultNamespace, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second, Context: ctx})
		if err != nil {
			pause(ctx, 5*time.Millisecond)
			continue
		}
		now := time.Now()
		for _, e := range eps {
			if e.Name == "burn" && e.ReadyCount() >= n {
				return now
			}
		}
		index = meta.LastIndex
	}
	return time.Time{}
}

// watchCountRaised returns when the job's deployment first wants more
// than one pod, by blocking query on the deployments.
func watchCountRaised(ctx context.Context, cl *api.Client) time.Time {
	var index uint64
	for ctx.Err() == nil {
		var deps []*structs.Deployment
		meta, err := cl.Raw(ctx, "GET", "/v1/deployments", &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second, Context: ctx}, nil, &deps)
		if err != nil {
			pause(ctx, 5*time.Millisecond)
			continue
		}
		now := time.Now()
		for _, d := range deps {
			if d.JobID == "burn" && d.Replicas > 1 {
				return now
			}
		}
		index = meta.LastIndex
	}
	return time.Time{}
}
