//go:build bench

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// execStartResult is bench/results/exec_start.json.
type execStartResult struct {
	Pods  int     `json:"pods"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// TestBenchExecStart measures pod start latency with the exec driver on a
// real client (`mk agent -dev`, the driver as a plugin): from the register
// call of a one-pod job to the API reporting the pod running, over 60
// jobs run one after another.
func TestBenchExecStart(t *testing.T) {
	const n = 60
	addr, _ := testutil.StartDevAgent(t)
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for i := 0; i < n; i++ {
		job := benchJob(fmt.Sprintf("start-%d", i))
		job.Groups[0].Count = 1
		job.Groups[0].Services, job.Groups[0].Network = nil, nil
		job.Groups[0].Tasks[0].Config = &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"600"}}
		start := time.Now()
		resp, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job})
		if err != nil {
			t.Fatal(err)
		}
		index := resp.Index
		for {
			pods, meta, err := cl.Pods(job.Name, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			index = meta.LastIndex
			if len(pods) == 1 && pods[0].Phase == structs.PodPhaseRunning {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("pod of %s not running after 30s", job.Name)
			}
		}
		lat = append(lat, time.Since(start))
		if _, err := cl.DeregisterJob(context.Background(), job.Name, true); err != nil {
			t.Fatal(err)
		}
	}
	sortDurations(lat)
	res := execStartResult{Pods: n, P50Ms: ms(percentile(lat, 50)), P99Ms: ms(percentile(lat, 99))}
	fmt.Println("\nexec pod start: job run -> API says running (mk agent -dev, exec plugin)")
	printTable([]string{"pods", "p50 ms", "p99 ms"}, [][]string{{fmt.Sprint(n), fmt.Sprintf("%.1f", res.P50Ms), fmt.Sprintf("%.1f", res.P99Ms)}})
	verdict := "met"
	if res.P50Ms > 300 {
		verdict = "MISSED"
	}
	fmt.Printf("target: p50 <= 300 ms: %s\n", verdict)
	writeResults(t, "exec_start", res)
}
