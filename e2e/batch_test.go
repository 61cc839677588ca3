package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestConcurrentWritesShareEntries: a burst of registers on a 3-server
// cluster goes into batch entries (every server advertises the log format,
// so the leader batches), and every register is answered with its own job
// and stored on every server.
func TestConcurrentWritesShareEntries(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	leader := c.Nodes[c.WaitForLeader(10*time.Second)]
	// The leader turns batching on once it has seen every server's Serf
	// tags; until then each register is an entry of its own.
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		on, _ := testutil.Metric(t, leader.Addr(), "mk_raft_batch_entries")
		return on == 1, fmt.Errorf("mk_raft_batch_entries is %v", on)
	})
	count0, _ := testutil.Metric(t, leader.Addr(), "mk_raft_entry_commands_count")
	sum0, _ := testutil.Metric(t, leader.Addr(), "mk_raft_entry_commands_sum")

	const writers = 64
	resps := make([]*structs.JobRegisterResponse, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i], errs[i] = client(t, leader).RegisterJob(context.Background(),
				&structs.JobRegisterBody{Job: testJob(fmt.Sprintf("burst-%d", i), fmt.Sprint(i))})
		}()
	}
	wg.Wait()
	acked := map[string]string{}
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("register burst-%d: %v", i, errs[i])
		}
		if resps[i].Version != 0 || resps[i].Index == 0 {
			t.Fatalf("register burst-%d: response %+v, want version 0 at an index", i, resps[i])
		}
		acked[fmt.Sprintf("burst-%d", i)] = fmt.Sprint(i)
	}
	count, _ := testutil.Metric(t, leader.Addr(), "mk_raft_entry_commands_count")
	sum, _ := testutil.Metric(t, leader.Addr(), "mk_raft_entry_commands_sum")
	entries, commands := count-count0, sum-sum0
	t.Logf("%d writes: %.0f commands in %.0f entries", writers, commands, entries)
	if commands < writers || entries >= commands {
		t.Fatalf("%.0f commands in %.0f entries: want at least %d commands, several to an entry", commands, entries, writers)
	}
	// Each job's register response is its own: the index it was stored at.
	for i := range writers {
		job, _, err := client(t, leader).Job(fmt.Sprintf("burst-%d", i), &api.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if job.ModifyIndex != resps[i].Index || job.Meta["v"] != fmt.Sprint(i) {
			t.Fatalf("job burst-%d: index %d, value %q; its register answered index %d, value %d",
				i, job.ModifyIndex, job.Meta["v"], resps[i].Index, i)
		}
	}
	waitAllHave(t, c, acked, 10*time.Second)
	waitSameState(t, c)
}
