package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// fastLiveness makes node failure detection quick enough for tests.
func fastLiveness(i int, c *server.Config) {
	c.HeartbeatTTL = 300 * time.Millisecond
	c.HeartbeatGrace = 300 * time.Millisecond
	c.FailoverHeartbeatGrace = time.Second
	c.ReconcileInterval = 500 * time.Millisecond
}

func simNodes(t *testing.T, addr string, n int, drivers ...string) []*testutil.SimNode {
	t.Helper()
	var out []*testutil.SimNode
	for i := 0; i < n; i++ {
		sn, err := testutil.NewSimNode(addr, fmt.Sprintf("node-%d", i+1), drivers, structs.NodeResources{CPU: 4000, MemoryMB: 4096})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Stop)
		out = append(out, sn)
	}
	return out
}

func runJob(t *testing.T, cl *api.Client, job *structs.Job) {
	t.Helper()
	if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job}); err != nil {
		t.Fatal(err)
	}
}

// podsWhere waits until the job's pods that match keep number want.
func waitPods(t *testing.T, cl *api.Client, job string, want int, keep func(p *structs.Pod) bool) []*structs.Pod {
	t.Helper()
	var got []*structs.Pod
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods(job, nil)
		if err != nil {
			return false, err
		}
		got = got[:0]
		var states []string
		for _, p := range pods {
			if keep(p) {
				got = append(got, p)
			}
			states = append(states, fmt.Sprintf("%s node=%.8s desired=%s phase=%s pid=%d modify=%d client=%d",
				p.Name, p.NodeID, p.DesiredStatus, p.Phase, taskPID(p), p.ModifyIndex, p.ClientModifyIndex))
		}
		if len(got) == want {
			return true, nil
		}
		return false, fmt.Errorf("%d matching pods of %s, want %d; pods: %s; nodes: %s", len(got), job, want, strings.Join(states, "; "), nodeStates(cl))
	})
	return got
}

// nodeStates describes the cluster's nodes for a failure message: which
// node a stuck pod was given, and whether it is alive.
func nodeStates(cl *api.Client) string {
	nodes, _, err := cl.Nodes(nil)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, n := range nodes {
		out = append(out, fmt.Sprintf("%s id=%.8s status=%s modify=%d", n.Name, n.ID, n.Status, n.ModifyIndex))
	}
	return strings.Join(out, "; ")
}

func running(p *structs.Pod) bool {
	return p.DesiredStatus == structs.PodDesiredRun && p.Phase == structs.PodPhaseRunning && p.NodeID != ""
}

func spreadJob(name string, count int, driver string) *structs.Job {
	j := testJob(name, "1")
	j.Meta["mk.scheduler"] = "spread"
	j.Groups[0].Count = count
	j.Groups[0].Tasks[0].Driver = driver
	if driver == "docker" {
		j.Groups[0].Tasks[0].Config = &structs.TaskConfig{Image: "mk/busybox:test"}
	}
	return j
}

// TestServiceSpreadsHealsAndReplacesLostNode: a count=3 service spreads
// over 3 nodes; a stopped pod is replaced; a node that stops heartbeating
// is marked down and its pod is replaced on the others.
func TestServiceSpreadsHealsAndReplacesLostNode(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	nodes := simNodes(t, c.Nodes[0].Addr(), 3, "exec")
	runJob(t, cl, spreadJob("web", 3, "exec"))
	pods := waitPods(t, cl, "web", 3, running)
	onNode := map[string]int{}
	for _, p := range pods {
		onNode[p.NodeID]++
	}
	if len(onNode) != 3 {
		t.Fatalf("spread placed pods on %d nodes, want 3: %v", len(onNode), onNode)
	}

	// A stopped pod is replaced.
	if err := cl.StopPod(context.Background(), pods[0].ID); err != nil {
		t.Fatal(err)
	}
	waitPods(t, cl, "web", 3, func(p *structs.Pod) bool { return running(p) && p.ID != pods[0].ID })

	// A node that goes silent: down, its pod lost and replaced elsewhere.
	victim := nodes[0]
	victim.Stop()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		n, err := cl.Node(victim.Node.ID, nil)
		return err == nil && n.Status == structs.NodeStatusDown, fmt.Errorf("node status: %v %v", n, err)
	})
	waitPods(t, cl, "web", 3, func(p *structs.Pod) bool { return running(p) && p.NodeID != victim.Node.ID })
	lost := waitPods(t, cl, "web", 1, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseLost })
	if lost[0].NodeID != victim.Node.ID {
		t.Fatalf("lost pod on %s, want %s", lost[0].NodeID, victim.Node.ID)
	}
}

// TestUnplaceablePodsWaitWithReason: a pod whose driver no node has stays
// pending with the reason, and is placed once a node with it joins.
func TestUnplaceablePodsWaitWithReason(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	simNodes(t, c.Nodes[0].Addr(), 2, "exec")
	runJob(t, cl, spreadJob("db", 1, "docker"))
	pending := waitPods(t, cl, "db", 1, func(p *structs.Pod) bool { return p.PendingReason != "" })
	if !strings.Contains(pending[0].PendingReason, `driver "docker"`) {
		t.Fatalf("pending reason %q does not name the driver", pending[0].PendingReason)
	}
	simNodes(t, c.Nodes[0].Addr(), 1, "exec", "docker")
	waitPods(t, cl, "db", 1, running)
}

// TestBatchRunsOnceAcrossFailover: a batch job's pods succeed and are not
// run again, not even after the leader changes.
func TestBatchRunsOnceAcrossFailover(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{Configure: fastLiveness})
	leader := c.Nodes[c.Leader()]
	// The simulated clients talk to a follower, which survives the kill.
	follower := c.Nodes[(c.Leader()+1)%3]
	nodes := simNodes(t, follower.Addr(), 2, "exec")
	for _, n := range nodes {
		n.Outcome = func(p *structs.Pod) string { return structs.PodPhaseSucceeded }
	}
	job := testJob("once", "1")
	job.Type = structs.JobTypeBatch
	job.Groups[0].Count = 2
	cl := client(t, leader)
	runJob(t, cl, job)
	waitPods(t, cl, "once", 2, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseSucceeded })

	c.Kill(c.Leader())
	newLeader := c.Nodes[c.WaitForLeader(10*time.Second)]
	cl = client(t, newLeader)
	// Proof that the new leader's controllers have run: a new job's pods
	// get placed and succeed. Only then count the first job's pods.
	probe := testJob("probe", "1")
	probe.Type = structs.JobTypeBatch
	runJob(t, cl, probe)
	waitPods(t, cl, "probe", 1, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseSucceeded })
	pods, _, err := cl.Pods("once", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("batch job has %d pods after failover, want the 2 that succeeded", len(pods))
	}
}

// TestSystemJobOnEveryNode: one pod per node, including a node that joins
// later; stopping the job stops them all.
func TestSystemJobOnEveryNode(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	simNodes(t, c.Nodes[0].Addr(), 2, "exec")
	job := testJob("agent", "1")
	job.Type = structs.JobTypeSystem
	runJob(t, cl, job)
	waitPods(t, cl, "agent", 2, running)
	simNodes(t, c.Nodes[0].Addr(), 1, "exec")
	waitPods(t, cl, "agent", 3, running)

	// A node without room for the pod gets one that waits there with the
	// reason, never one that overcommits it.
	small, err := testutil.NewSimNode(c.Nodes[0].Addr(), "small", []string{"exec"}, structs.NodeResources{CPU: 4000, MemoryMB: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(small.Stop)
	waitPods(t, cl, "agent", 4, func(p *structs.Pod) bool {
		if p.PinnedNodeID == small.Node.ID {
			return p.NodeID == "" && p.PendingReason == `memory exhausted on node "small"`
		}
		return running(p)
	})
	// A node that leaves drops the pod waiting for it.
	small.Stop()
	waitPods(t, cl, "agent", 4, func(p *structs.Pod) bool {
		if p.PinnedNodeID == small.Node.ID {
			return p.DesiredStatus == structs.PodDesiredStop && p.NodeID == ""
		}
		return running(p)
	})

	if _, err := cl.DeregisterJob(context.Background(), "agent", false); err != nil {
		t.Fatal(err)
	}
	waitPods(t, cl, "agent", 4, func(p *structs.Pod) bool { return p.DesiredStatus == structs.PodDesiredStop })
}

// TestDrainMovesPods: draining a node moves its pods to the others one at
// a time, so the group never has fewer than count-1 pods running.
func TestDrainMovesPods(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	simNodes(t, c.Nodes[0].Addr(), 2, "exec")
	job := testJob("web", "1")
	job.Groups[0].Count = 4 // bin-pack: all on one node
	runJob(t, cl, job)
	pods := waitPods(t, cl, "web", 4, running)
	drained := pods[0].NodeID
	if err := cl.DrainNode(context.Background(), drained, true); err != nil {
		t.Fatal(err)
	}
	// Watch every state on the way: never fewer than 3 running.
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		list, _, err := cl.Pods("web", nil)
		if err != nil {
			return false, err
		}
		var up, moved int
		for _, p := range list {
			if running(p) {
				up++
				if p.NodeID != drained {
					moved++
				}
			}
		}
		if up < 3 {
			t.Fatalf("only %d pods running during the drain", up)
		}
		return moved == 4, fmt.Errorf("%d of 4 pods moved", moved)
	})
}

// TestNewPodsOfManyJobsNeverOvercommit: pods created in one controller
// pass are placed before they are written, job after job; each job's
// placements count against the next, so a node is never given more than
// it has.
func TestNewPodsOfManyJobsNeverOvercommit(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	sn, err := testutil.NewSimNode(c.Nodes[0].Addr(), "tight", []string{"exec"}, structs.NodeResources{CPU: 1000, MemoryMB: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sn.Stop)
	// 6 jobs of 3 pods at 100 MHz each on a 1,000 MHz node: 10 fit.
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			job := testJob(fmt.Sprintf("many-%d", i), "1")
			job.Groups[0].Count = 3
			if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("", nil)
		if err != nil {
			return false, err
		}
		placed, pending := 0, 0
		for _, p := range pods {
			switch {
			case p.NodeID != "":
				placed++
			case p.PendingReason == "cpu exhausted on 1 node":
				pending++
			}
		}
		if placed > 10 {
			t.Fatalf("%d pods placed on a node with room for 10", placed)
		}
		return placed == 10 && pending == 8, fmt.Errorf("%d placed, %d pending for cpu", placed, pending)
	})
}

// TestFailingPodsBackOff: the replacements of a pod that fails as soon as
// it starts are spaced out (doubling up to a cap) instead of a storm of
// pods.
func TestFailingPodsBackOff(t *testing.T) {
	const base, maxDelay = 300 * time.Millisecond, 1200 * time.Millisecond
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(i int, sc *server.Config) {
		fastLiveness(i, sc)
		sc.RescheduleDelay, sc.RescheduleMaxDelay = base, maxDelay
	}})
	cl := client(t, c.Nodes[0])
	sn, err := testutil.NewSimNode(c.Nodes[0].Addr(), "crashy", []string{"exec"}, structs.NodeResources{CPU: 4000, MemoryMB: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sn.Outcome = func(p *structs.Pod) string { return structs.PodPhaseFailed }
	t.Cleanup(sn.Stop)
	runJob(t, cl, testJob("crash", "1"))
	start := time.Now()
	// Replacements come at about 0, 0, 0.3, 0.6, 1.2, 1.2, ... s: 7 pods
	// by about 4.5 s.
	pods := waitPods(t, cl, "crash", 7, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseFailed })
	took := time.Since(start)
	if took < base+2*base+maxDelay+maxDelay {
		t.Fatalf("7 failed pods after %s: replacements did not back off", took)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].CreateTime < pods[j].CreateTime })
	if gap := time.Duration(pods[6].CreateTime - pods[5].CreateTime); gap < maxDelay {
		t.Fatalf("last replacement %s after the one before, want at least the cap %s", gap, maxDelay)
	}
	t.Logf("7 failed pods after %s", took)
}

// TestPendingPodsPlacedWhenRoomFrees: a pod that found no room waits with
// the reason and is placed as soon as room frees up (another job stops),
// or a node joins; not before.
func TestPendingPodsPlacedWhenRoomFrees(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	sn, err := testutil.NewSimNode(c.Nodes[0].Addr(), "full", []string{"exec"}, structs.NodeResources{CPU: 1000, MemoryMB: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sn.Stop)
	hog := testJob("hog", "1")
	hog.Groups[0].Count = 10 // 10 × 100 MHz: the node is full
	runJob(t, cl, hog)
	waitPods(t, cl, "hog", 10, running)
	runJob(t, cl, testJob("late", "1"))
	waitPods(t, cl, "late", 1, func(p *structs.Pod) bool {
		return p.NodeID == "" && p.PendingReason == "cpu exhausted on 1 node"
	})

	if _, err := cl.DeregisterJob(context.Background(), "hog", false); err != nil {
		t.Fatal(err)
	}
	waitPods(t, cl, "late", 1, running)

	// A pod waiting for a node is placed when one joins.
	big := testJob("big", "1")
	big.Groups[0].Tasks[0].Resources.CPU = 3000
	runJob(t, cl, big)
	waitPods(t, cl, "big", 1, func(p *structs.Pod) bool {
		return p.NodeID == "" && p.PendingReason == "cpu exhausted on 1 node"
	})
	roomy, err := testutil.NewSimNode(c.Nodes[0].Addr(), "roomy", []string{"exec"}, structs.NodeResources{CPU: 4000, MemoryMB: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(roomy.Stop)
	waitPods(t, cl, "big", 1, func(p *structs.Pod) bool { return running(p) && p.NodeName == "roomy" })
}
