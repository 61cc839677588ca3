package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
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
	t.Cleanup(func() {
		if t.Failed() {
			f, _ := os.Create("/tmp/goroutines.txt")
			pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
	})
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

// TestClientsSpreadAndNodeLoss: three real clients; a count=3 service
// spreads one pod per node; a client that dies has its pod replaced on the
// others within the heartbeat grace; when it comes back it stops the pod
// that was replaced.
func TestClientsSpreadAndNodeLoss(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	var clients []*mkclient.Client
	var dirs []string
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		dirs = append(dirs, dir)
		cli := startClient(t, c.Nodes[0].Addr(), fmt.Sprintf("worker-%d", i+1), dir)
		clients = append(clients, cli)
	}
	t.Cleanup(func() {
		for _, cli := range clients {
			cli.Destroy()
		}
	})
	job := sleeperJob("spread", 3)
	job.Meta["mk.scheduler"] = "spread"
	runJob(t, cl, job)
	pods := waitPods(t, cl, "spread", 3, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })
	nodes := map[string]bool{}
	for _, p := range pods {
		nodes[p.NodeID] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("3 pods on %d nodes, want one per node", len(nodes))
	}

	// Kill the first client (its loops stop; its task keeps running as
	// after kill -9 of the agent).
	dead := clients[0]
	deadNode := dead.NodeID()
	var orphan *structs.Pod
	for _, p := range pods {
		if p.NodeID == deadNode {
			orphan = p
		}
	}
	dead.Shutdown()
	start := time.Now()
	waitPods(t, cl, "spread", 3, func(p *structs.Pod) bool { return running(p) && p.NodeID != deadNode })
	t.Logf("pod of the dead client replaced after %s", time.Since(start))

	// It comes back: the replaced pod is stopped, its process ends.
	clients[0] = startClient(t, c.Nodes[0].Addr(), "worker-1", dirs[0])
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		err := syscall.Kill(taskPID(orphan), 0)
		return err != nil, fmt.Errorf("process %d of the replaced pod still runs", taskPID(orphan))
	})
}

// TestMemoryLimitOOM: a task that passes its memory limit is OOM-killed
// and the event says so.
func TestMemoryLimitOOM(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: fastLiveness})
	cl := client(t, c.Nodes[0])
	cli := startClient(t, c.Nodes[0].Addr(), "worker-1", t.TempDir())
	t.Cleanup(cli.Destroy)
	job := testJob("hog", "1")
	job.Type = structs.JobTypeBatch
	job.Groups[0].Restart = &structs.RestartPolicy{Attempts: 0, Interval: "1m", Delay: "1s", Mode: structs.RestartModeFail}
	job.Groups[0].Tasks[0].Config = &structs.TaskConfig{Command: "/usr/bin/tail", Args: []string{"/dev/zero"}}
	job.Groups[0].Tasks[0].Resources.MemoryMB = 32
	runJob(t, cl, job)
	// The group fails, is rescheduled a bounded number of times, and every
	// failure is an OOM kill.
	failed := waitPods(t, cl, "hog", 3, func(p *structs.Pod) bool { return p.Phase == structs.PodPhaseFailed })
	for _, p := range failed {
		var oom bool
		for _, e := range p.TaskStates["main"].Events {
			if e.Type == "Terminated" && strings.Contains(e.Message, "OOM") {
				oom = true
			}
		}
		if !oom {
			t.Fatalf("pod %s failed without an OOM event: %+v", p.Name, p.TaskStates["main"].Events)
		}
	}
}
