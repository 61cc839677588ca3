package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
	reportingSimNodes(t, c.Nodes[0].Addr(), nodes, func(*structs.Pod) bool { return true })
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

// TestRolloutResumesAfterLeaderFailover: a rollout stalled on a new pod
// that is not healthy yet is resumed by the next leader once the pod is,
// and completes with exactly the group's count of new pods (none
// duplicated) and every old pod stopped.
func TestRolloutResumesAfterLeaderFailover(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{Configure: fastLiveness})
	// The simulated clients talk to a follower, which survives the kill.
	follower := c.Nodes[(c.Leader()+1)%3]
	var newHealthy atomic.Bool
	reportingSimNodes(t, follower.Addr(), 2, func(p *structs.Pod) bool {
		return p.Template.Tasks[0].Env["V"] == "1" || newHealthy.Load()
	})
	version := func(v string, count int) *structs.Job {
		job := testJob("web", "1")
		job.Groups[0].Count = count
		job.Groups[0].Update = &structs.UpdateStrategy{MaxSurge: 1, HealthyDeadline: "5m", ProgressDeadline: "10m"}
		job.Groups[0].Tasks[0].Env = map[string]string{"V": v}
		return job
	}
	healthyOf := func(v string) func(p *structs.Pod) bool {
		return func(p *structs.Pod) bool {
			return p.DesiredStatus == structs.PodDesiredRun && p.Phase == structs.PodPhaseRunning && p.Healthy &&
				p.Template.Tasks[0].Env["V"] == v
		}
	}
	cl := client(t, follower)
	runJob(t, cl, version("1", 4))
	waitPods(t, cl, "web", 4, healthyOf("1"))

	runJob(t, cl, version("2", 4))
	// max_surge 1 and no unavailable: one new pod, which is not healthy,
	// holds the rollout with all four old pods serving.
	waitPods(t, cl, "web", 1, func(p *structs.Pod) bool {
		return p.DesiredStatus == structs.PodDesiredRun && p.Phase == structs.PodPhaseRunning && p.Template.Tasks[0].Env["V"] == "2"
	})
	waitPods(t, cl, "web", 4, healthyOf("1"))

	killedAt := time.Now()
	c.Kill(c.Leader())
	c.WaitForLeader(10 * time.Second)
	newHealthy.Store(true)
	defer func() {
		t.Logf("rollout complete %s after the leader was killed", time.Since(killedAt).Round(time.Millisecond))
	}()
	waitPods(t, cl, "web", 4, healthyOf("2"))
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("web", nil)
		if err != nil {
			return false, err
		}
		var run, oldRunning int
		for _, p := range pods {
			if p.DesiredStatus == structs.PodDesiredRun {
				run++
				if p.Template.Tasks[0].Env["V"] == "1" {
					oldRunning++
				}
			}
		}
		return run == 4 && oldRunning == 0, fmt.Errorf("%d pods to run (want 4), %d of them old", run, oldRunning)
	})
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		deps, _, err := cl.JobDeployments("web", nil)
		if err != nil || len(deps) != 1 {
			return false, fmt.Errorf("deployments %v: %v", deps, err)
		}
		return deps[0].Status == structs.DeploymentStatusSuccessful, fmt.Errorf("deployment %s (%s)", deps[0].Status, deps[0].StatusDescription)
	})
}

// reportingSimNodes starts n simulated nodes that report their running
// pods healthy as healthy says.
func reportingSimNodes(t *testing.T, addr string, n int, healthy func(*structs.Pod) bool) {
	t.Helper()
	for i := range n {
		sn, err := testutil.NewStoppedSimNode(addr, fmt.Sprintf("node-%d", i+1), []string{"exec"},
			structs.NodeResources{CPU: 4000, MemoryMB: 4096})
		if err != nil {
			t.Fatal(err)
		}
		sn.Fill = func(p *structs.Pod, u *structs.PodStatusUpdate) { u.Healthy = healthy(p) }
		if err := sn.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Stop)
	}
}
