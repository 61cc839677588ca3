package e2e

import (
	"fmt"
	"os"
	"path/filepath"
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

	plugins := testutil.ChildPIDs(a.PID(), "plugin exec")
	if len(plugins) != 1 {
		t.Fatalf("agent runs %d exec plugins, want 1", len(plugins))
	}
	a.Kill()
	for _, p := range before {
		if err := syscall.Kill(taskPID(p), 0); err != nil {
			t.Fatalf("task of %s died with the agent", p.Name)
		}
	}
	// Its plugin does not outlive it as an orphan.
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return syscall.Kill(plugins[0], 0) != nil, fmt.Errorf("plugin %d of the killed agent still runs", plugins[0])
	})
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

// TestBatchTaskEndsWhileAgentDown: a batch task that succeeds while its
// agent is down (kill -9) is reported succeeded when the agent is back,
// with its real exit code, and is not run again; one that fails goes
// through the restart policy with its code.
func TestBatchTaskEndsWhileAgentDown(t *testing.T) {
	a := testutil.NewClientAgent(t, "agent-1")
	cl := clientAt(t, a.Addr())
	dir := testutil.HostDir(t)
	job := testJob("once", "1")
	job.Type = structs.JobTypeBatch
	job.Groups[0].Restart = &structs.RestartPolicy{Attempts: 0, Interval: "1m", Delay: "100ms", Mode: structs.RestartModeFail}
	// Each run leaves a line in runs, then waits for the test to write the
	// exit code it should end with.
	job.Groups[0].Tasks[0].Config = &structs.TaskConfig{Command: "/bin/sh", Args: []string{"-c",
		fmt.Sprintf(`echo run >> %[1]s/runs; while [ ! -s %[1]s/code ]; do sleep 0.05; done; exit $(cat %[1]s/code)`, dir)}}
	runJob(t, cl, job)
	pod := waitPods(t, cl, "once", 1, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })[0]

	a.Kill()
	if err := os.WriteFile(filepath.Join(dir, "code"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return syscall.Kill(taskPID(pod), 0) != nil, fmt.Errorf("task %d still runs", taskPID(pod))
	})
	a.Restart()
	cl = clientAt(t, a.Addr())
	done := waitPods(t, cl, "once", 1, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseSucceeded })[0]
	if done.ID != pod.ID || done.TaskStates["main"].Restarts != 0 {
		t.Fatalf("pod %s restarts %d, want the same pod %s with 0", done.ID, done.TaskStates["main"].Restarts, pod.ID)
	}
	if runs, _ := os.ReadFile(filepath.Join(dir, "runs")); string(runs) != "run\n" {
		t.Fatalf("task ran %q, want once", runs)
	}
}
