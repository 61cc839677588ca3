package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestAgentKill9KeepsTasks: kill -9 a real agent (server and client) while
// its tasks run, start it again on the same data_dir: the tasks are the
// same processes (same PIDs), restart counts unchanged, nothing started
// twice.
func TestAgentKill9KeepsTasks(t *testing.T) {
	a := testutil.NewClientAgent(t, "agent-1")
	cl := clientAt(t, a.Addr())
	runJob(t, cl, sleeperJob("keep", 2))
	before := waitPods(t, cl, "keep", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })

	a.Kill()
	for _, p := range before {
		if err := syscall.Kill(taskPID(p), 0); err != nil {
			t.Fatalf("task of %s died with the agent", p.Name)
		}
	}
	a.Restart()
	cl = clientAt(t, a.Addr())
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("keep", nil)
		if err != nil {
			return false, err
		}
		if len(pods) != 2 {
			return false, fmt.Errorf("%d pods after restart, want the same 2", len(pods))
		}
		for _, p := range pods {
			var want int
			for _, b := range before {
				if b.ID == p.ID {
					want = taskPID(b)
				}
			}
			ts := p.TaskStates["main"]
			if !running(p) || taskPID(p) != want || ts.Restarts != 0 {
				return false, fmt.Errorf("pod %s: running=%v pid %d (was %d) restarts %d", p.Name, running(p), taskPID(p), want, ts.Restarts)
			}
			if last := ts.Events[len(ts.Events)-1]; last.Type != "Recovered" {
				return false, fmt.Errorf("pod %s: last event %s, want Recovered", p.Name, last.Type)
			}
		}
		return true, nil
	})
	// Stopping the job still reaches the recovered processes.
	if _, err := cl.DeregisterJob(t.Context(), "keep", false); err != nil {
		t.Fatal(err)
	}
	for _, p := range before {
		pid := taskPID(p)
		testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
			return syscall.Kill(pid, 0) != nil, fmt.Errorf("pid %d still runs after the job stopped", pid)
		})
	}
}
