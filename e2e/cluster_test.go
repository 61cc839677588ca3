package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestThreeServersFailover kills the leader of a 3-server cluster while
// writing, checks a new leader takes over within seconds and that no
// acknowledged write is lost, then restarts the killed server from its data
// dir and checks it catches up to the same state.
func TestThreeServersFailover(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	acked := map[string]string{}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("job-%d", i)
		registerRetry(t, c, name, "v1", 10*time.Second)
		acked[name] = "v1"
	}

	old := c.Leader()
	killedAt := time.Now()
	c.Kill(old)
	leader := c.WaitForLeader(10 * time.Second)
	failover := time.Since(killedAt)
	t.Logf("new leader %s after %s", c.Nodes[leader].Config.NodeName, failover)
	if leader == old {
		t.Fatalf("killed server %d still leads", old)
	}
	if failover > 5*time.Second {
		t.Fatalf("failover took %s, want < 5s", failover)
	}

	// Keep writing on the survivors: updates and new jobs.
	for i := 10; i < 30; i++ {
		name := fmt.Sprintf("job-%d", i)
		registerRetry(t, c, name, "v2", 10*time.Second)
		acked[name] = "v2"
	}
	waitAllHave(t, c, acked, 10*time.Second)

	c.Restart(old)
	waitAllHave(t, c, acked, 20*time.Second)
	waitSameState(t, c)
}

// waitSameState waits until every alive server has the same state hash.
func waitSameState(t *testing.T, c *testutil.Cluster) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		var first string
		for _, i := range c.Alive() {
			h := stateHash(t, c.Nodes[i])
			if first == "" {
				first = h
			} else if h != first {
				return false, fmt.Errorf("%s has state %s, want %s", c.Nodes[i].Config.NodeName, h[:12], first[:12])
			}
		}
		return true, nil
	})
}

// TestFiveServersQuorum: a 5-server cluster keeps serving writes with two
// servers down and refuses them with 503 + Retry-After with three down.
func TestFiveServersQuorum(t *testing.T) {
	c := testutil.NewCluster(t, 5, testutil.ClusterOptions{})
	registerRetry(t, c, "before", "1", 10*time.Second)

	// Down two, the leader among them.
	leader := c.Leader()
	c.Kill(leader)
	c.Kill((leader + 1) % 5)
	c.WaitForLeader(10 * time.Second)
	acked := map[string]string{"before": "1"}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("two-down-%d", i)
		registerRetry(t, c, name, "2", 10*time.Second)
		acked[name] = "2"
	}
	waitAllHave(t, c, acked, 10*time.Second)

	// Down a third: no quorum.
	c.Kill(c.Alive()[0])
	survivor := c.Nodes[c.Alive()[0]]
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		err := register(t, survivor, "no-quorum", "3")
		var apiErr *api.Error
		if !errors.As(err, &apiErr) {
			return false, fmt.Errorf("write without quorum: got %v, want a 503", err)
		}
		if apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.RetryAfter == "" {
			return false, fmt.Errorf("got %d (Retry-After %q), want 503 with Retry-After", apiErr.StatusCode, apiErr.RetryAfter)
		}
		return true, nil
	})
	// Nothing written without quorum is visible, and every earlier write is.
	for _, i := range c.Alive() {
		if v, err := staleValue(t, c.Nodes[i], "no-quorum"); err != nil || v != "" {
			t.Fatalf("%s: job written without quorum is visible (%q, %v)", c.Nodes[i].Config.NodeName, v, err)
		}
	}
	waitAllHave(t, c, acked, 5*time.Second)
}

// TestRestartAllServers stops every server and starts them again on the
// same data dirs: they elect a leader and keep every write.
func TestRestartAllServers(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{
		// A low threshold makes servers snapshot and truncate their logs,
		// so the restart exercises restore from snapshot + log.
		Configure: func(i int, cfg *server.Config) { cfg.SnapshotThreshold = 16 },
	})
	acked := map[string]string{}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("job-%d", i%25)
		v := fmt.Sprintf("v%d", i)
		registerRetry(t, c, name, v, 10*time.Second)
		acked[name] = v
	}
	for _, n := range c.Nodes {
		if err := n.Server.Raft().Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", n.Config.NodeName, err)
		}
	}
	for i := range c.Nodes {
		c.Kill(i)
	}
	for i := range c.Nodes {
		c.Restart(i)
	}
	c.WaitForLeader(20 * time.Second)
	waitAllHave(t, c, acked, 10*time.Second)
	waitSameState(t, c)

	// The cluster still takes writes.
	registerRetry(t, c, "after-restart", "x", 10*time.Second)
	versions, _, err := client(t, c.Nodes[c.Leader()]).JobVersions("job-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Meta["v"] != "v25" || versions[1].Meta["v"] != "v0" {
		t.Fatalf("job-0 history = %d versions, want v25 then v0", len(versions))
	}
}
