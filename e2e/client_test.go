package e2e

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	mkclient "github.com/mk-orchestrator/mk/client"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// startClient runs a real client with the exec driver (in process) against
// a server's API, with its state in dir.
func startClient(t *testing.T, addr, name, dir string) *mkclient.Client {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: os.Stderr})
	c, err := mkclient.New(&mkclient.Config{NodeName: name, Datacenter: "dc1", DataDir: dir, Server: addr, Address: addr,
		Drivers: map[string]drivers.Driver{"exec": exec.New(logger)}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func sleeperJob(name string, count int) *structs.Job {
	j := testJob(name, "1")
	j.Groups[0].Count = count
	j.Groups[0].Tasks[0].Config = &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"300"}}
	j.Groups[0].Restart = &structs.RestartPolicy{Attempts: 1, Interval: "1m", Delay: "100ms", Mode: structs.RestartModeFail}
	return j
}

// taskPID returns the PID of a running pod's only task.
func taskPID(p *structs.Pod) int {
	for _, ts := range p.TaskStates {
		return ts.PID
	}
	return 0
}

// TestClientRunsRestartsAndRecovers runs real processes through the exec
// driver: pods run; a killed task restarts per policy; past its attempts the
// pod fails and the replica set replaces it; a client killed and started
// again keeps the same processes.
func TestClientRunsRestartsAndRecovers(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	dir := t.TempDir()
	cli := startClient(t, c.Nodes[0].Addr(), "worker-1", dir)
	runJob(t, cl, sleeperJob("sleepy", 2))
	pods := waitPods(t, cl, "sleepy", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })

	// Kill a task's process: it restarts within the pod.
	victim := pods[0]
	if err := syscall.Kill(taskPID(victim), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarted := waitPods(t, cl, "sleepy", 1, func(p *structs.Pod) bool {
		return p.ID == victim.ID && running(p) && p.TaskStates["main"].Restarts == 1 && taskPID(p) != taskPID(victim)
	})[0]

	// Kill it again: attempts (1) are exhausted, the pod fails and the
	// replica set replaces it.
	if err := syscall.Kill(taskPID(restarted), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitPods(t, cl, "sleepy", 1, func(p *structs.Pod) bool { return p.ID == victim.ID && p.Phase == structs.PodPhaseFailed })
	waitPods(t, cl, "sleepy", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })

	// Restart the client (as after kill -9: no task is stopped): same PIDs,
	// same restart counts, nothing started twice.
	before, _, err := cl.Pods("sleepy", nil)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, p := range before {
		if running(p) {
			pids[p.ID] = taskPID(p)
		}
	}
	cli.Shutdown()
	cli = startClient(t, c.Nodes[0].Addr(), "worker-1", dir)
	t.Cleanup(cli.Destroy) // stop the test's processes
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		after, _, err := cl.Pods("sleepy", nil)
		if err != nil {
			return false, err
		}
		n := 0
		for _, p := range after {
			if !running(p) {
				continue
			}
			n++
			if pid, ok := pids[p.ID]; !ok || pid != taskPID(p) || p.TaskStates["main"].Restarts != 0 && p.ID != victim.ID {
				return false, fmt.Errorf("pod %s: pid %d (was %d), restarts %d", p.Name, taskPID(p), pid, p.TaskStates["main"].Restarts)
			}
		}
		return n == 2, fmt.Errorf("%d running pods after client restart, want 2", n)
	})
}
