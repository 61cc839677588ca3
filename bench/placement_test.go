//go:build bench

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// placementResult is bench/results/placement.json.
type placementResult struct {
	Nodes    int     `json:"nodes"`
	Pods     int     `json:"pods"`
	PlacedS  float64 `json:"placed_s"`
	RunningS float64 `json:"running_s"`
	PodsPerS float64 `json:"pods_per_s"`
}

// TestBenchPlacement registers 1,000 simulated nodes through the API (no
// processes: each acks its pods as running) and runs one job of 10,000
// pods; it measures the time until every pod is placed and until every pod
// reports running.
func TestBenchPlacement(t *testing.T) {
	const nodes, pods = 1000, 10000
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(i int, cfg *server.Config) {
		cfg.HeartbeatTTL = 30 * time.Second
	}})
	addr := c.Nodes[0].Addr()
	for i := 0; i < nodes; i++ {
		sn, err := testutil.NewSimNode(addr, fmt.Sprintf("sim-%04d", i), []string{"exec"},
			structs.NodeResources{CPU: 8000, MemoryMB: 16384})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Stop)
	}
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	job := benchJob("big")
	job.Groups[0].Count = pods
	job.Groups[0].Services = nil
	job.Groups[0].Network = nil
	start := time.Now()
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job}); err != nil {
		t.Fatal(err)
	}
	var placed, running time.Duration
	err = testutil.Wait(5*time.Minute, func() (bool, error) {
		list, _, err := cl.Pods("big", &api.QueryOptions{Stale: true})
		if err != nil {
			return false, err
		}
		var nPlaced, nRunning int
		for _, p := range list {
			if p.NodeID != "" {
				nPlaced++
			}
			if p.Phase == structs.PodPhaseRunning {
				nRunning++
			}
		}
		if placed == 0 && nPlaced == pods {
			placed = time.Since(start)
		}
		if nRunning == pods {
			running = time.Since(start)
			return true, nil
		}
		return false, fmt.Errorf("%d placed, %d running of %d", nPlaced, nRunning, pods)
	})
	if err != nil {
		t.Fatal(err)
	}
	res := placementResult{Nodes: nodes, Pods: pods, PlacedS: placed.Seconds(), RunningS: running.Seconds(),
		PodsPerS: float64(pods) / placed.Seconds()}
	fmt.Println("\nplacement: one job, simulated nodes, 1 server")
	printTable([]string{"nodes", "pods", "placed s", "running s", "pods/s placed"},
		[][]string{{fmt.Sprint(nodes), fmt.Sprint(pods), fmt.Sprintf("%.2f", res.PlacedS), fmt.Sprintf("%.2f", res.RunningS), fmt.Sprintf("%.0f", res.PodsPerS)}})
	verdict := "met"
	if res.PlacedS > 5 {
		verdict = "MISSED"
	}
	fmt.Printf("target: 10,000 pods on 1,000 nodes placed in <= 5 s: %s\n", verdict)
	writeResults(t, "placement", res)
}
