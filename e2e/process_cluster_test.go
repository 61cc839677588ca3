package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func agentClient(t *testing.T, a *testutil.Agent) *api.Client {
	c, err := api.NewClient(api.Config{Address: a.Addr(), HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// registerOnAny retries a register on every running agent until one acks.
func registerOnAny(t *testing.T, c *testutil.ProcessCluster, running []int, name, value string) {
	t.Helper()
	i := 0
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		a := c.Agents[running[i%len(running)]]
		i++
		_, err := agentClient(t, a).RegisterJob(context.Background(), &structs.JobRegisterBody{Job: testJob(name, value)})
		return err == nil, err
	})
}

// waitAgentHas waits until an agent's own state has every acked job.
func waitAgentHas(t *testing.T, a *testutil.Agent, acked map[string]string) {
	t.Helper()
	cl := agentClient(t, a)
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		for name, want := range acked {
			job, _, err := cl.Job(name, &api.QueryOptions{Stale: true})
			if err != nil {
				return false, fmt.Errorf("%s: %v", a.Name, err)
			}
			if job.Meta["v"] != want {
				return false, fmt.Errorf("%s: %s = %q, want %q", a.Name, name, job.Meta["v"], want)
			}
		}
		return true, nil
	})
}

func others(n, skip int) []int {
	var out []int
	for i := 0; i < n; i++ {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

// TestProcessClusterFailover runs three `mk agent -config` processes, as
// the README starts them: they form a cluster by themselves; kill -9 of the
// leader leaves a working cluster; the killed agent restarts from its
// data_dir and catches up.
func TestProcessClusterFailover(t *testing.T) {
	c := testutil.NewProcessCluster(t, 3)
	leader := c.WaitForLeader(10 * time.Second)
	acked := map[string]string{}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("p-%d", i)
		registerOnAny(t, c, []int{0, 1, 2}, name, "a")
		acked[name] = "a"
	}
	c.Kill(leader)
	start := time.Now()
	newLeader := c.WaitForLeader(15 * time.Second)
	t.Logf("new leader %s after %s", c.Agents[newLeader].Name, time.Since(start))
	survivors := others(3, leader)
	for i := 5; i < 15; i++ {
		name := fmt.Sprintf("p-%d", i)
		registerOnAny(t, c, survivors, name, "b")
		acked[name] = "b"
	}
	c.Start(leader)
	for i := range c.Agents {
		waitAgentHas(t, c.Agents[i], acked)
	}
}

// TestProcessClusterGracefulLeave: SIGTERM makes an agent leave; the leader
// removes it from the Raft configuration, and when it starts again it is
// added back.
func TestProcessClusterGracefulLeave(t *testing.T) {
	c := testutil.NewProcessCluster(t, 3)
	leader := c.WaitForLeader(10 * time.Second)
	follower := (leader + 1) % 3
	c.Stop(follower)
	peers := func() (int, error) {
		conf, err := agentClient(t, c.Agents[leader]).RaftConfiguration(nil)
		if err != nil {
			return 0, err
		}
		return len(conf.Servers), nil
	}
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		n, err := peers()
		return err == nil && n == 2, fmt.Errorf("%d raft servers (%v), want 2 after a graceful leave", n, err)
	})
	registerOnAny(t, c, []int{leader}, "after-leave", "x")

	c.Start(follower)
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		n, err := peers()
		return err == nil && n == 3, fmt.Errorf("%d raft servers (%v), want 3 after rejoin", n, err)
	})
	waitAgentHas(t, c.Agents[follower], map[string]string{"after-leave": "x"})

	// The leader leaving hands over: the other two elect a leader and the
	// configuration shrinks to them.
	c.Stop(leader)
	leader = c.WaitForLeader(15 * time.Second)
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		n, err := peers()
		return err == nil && n == 2, fmt.Errorf("%d raft servers (%v), want 2 after the leader left", n, err)
	})
	registerOnAny(t, c, []int{leader}, "after-leader-left", "y")
}
