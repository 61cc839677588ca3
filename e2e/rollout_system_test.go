package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestSystemJobRollsOneNodeAtATime: a new version of a system job
// replaces its pods one node at a time (max_unavailable 1 when the group
// has no update block): sampled throughout, never more than one node is
// without an available pod, and every node ends with one pod of the new
// version.
func TestSystemJobRollsOneNodeAtATime(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	const nodes = 3
	for i := range nodes {
		sn, err := testutil.NewStoppedSimNode(c.Nodes[0].Addr(), fmt.Sprintf("node-%d", i+1), []string{"exec"},
			structs.NodeResources{CPU: 4000, MemoryMB: 4096})
		if err != nil {
			t.Fatal(err)
		}
		sn.Fill = func(_ *structs.Pod, u *structs.PodStatusUpdate) { u.Healthy = true }
		if err := sn.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Stop)
	}
	job := testJob("agent", "1")
	job.Type = structs.JobTypeSystem
	job.Groups[0].Tasks[0].Env = map[string]string{"V": "1"}
	runJob(t, cl, job)
	version := func(v string) func(p *structs.Pod) bool {
		return func(p *structs.Pod) bool {
			return p.DesiredStatus == structs.PodDesiredRun && p.Phase == structs.PodPhaseRunning && p.Healthy &&
				p.Template.Tasks[0].Env["V"] == v
		}
	}
	waitPods(t, cl, "agent", nodes, version("1"))

	// Sample the nodes that have an available pod while the rollout runs.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	fewest, samples := nodes, 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pods, _, err := cl.Pods("agent", nil)
			if err == nil {
				serving := map[string]bool{}
				for _, p := range pods {
					if p.DesiredStatus == structs.PodDesiredRun && p.Phase == structs.PodPhaseRunning && p.Healthy && !p.Draining {
						serving[p.NodeID] = true
					}
				}
				fewest, samples = min(fewest, len(serving)), samples+1
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	v2 := testJob("agent", "1")
	v2.Type = structs.JobTypeSystem
	v2.Groups[0].Tasks[0].Env = map[string]string{"V": "2"}
	runJob(t, cl, v2)
	waitPods(t, cl, "agent", nodes, version("2"))
	stop()
	wg.Wait()
	if fewest < nodes-1 {
		t.Errorf("at one point only %d of %d nodes had an available pod, want at least %d (one node at a time)", fewest, nodes, nodes-1)
	}
	pods, _, err := cl.Pods("agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.DesiredStatus == structs.PodDesiredRun {
			perNode[p.NodeID]++
		}
	}
	if len(perNode) != nodes {
		t.Errorf("pods to run on %d nodes, want %d: %v", len(perNode), nodes, perNode)
	}
	for node, n := range perNode {
		if n != 1 {
			t.Errorf("node %.8s has %d pods to run, want 1", node, n)
		}
	}
	t.Logf("%d samples, at least %d of %d nodes serving throughout", samples, fewest, nodes)
}
