package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestPodExecAndStatsOnClientAgents runs one server agent and two
// client-only agents as processes, with the exec driver as a plugin. Exec
// and stats of each pod, asked of the server or of either client by ID
// prefix, reach the client that runs the pod: the command runs in the
// task's environment, the sample shows the task's memory and limits.
func TestPodExecAndStatsOnClientAgents(t *testing.T) {
	servers := testutil.NewProcessCluster(t, 1)
	srvAddr := servers.Agents[0].HTTPAddr
	c1 := testutil.NewClientOnlyAgent(t, "client-1", srvAddr)
	c2 := testutil.NewClientOnlyAgent(t, "client-2", srvAddr)
	apis := map[string]*api.Client{
		"server":   clientAt(t, servers.Agents[0].Addr()),
		"client-1": clientAt(t, c1.Addr()),
		"client-2": clientAt(t, c2.Addr()),
	}
	srv := apis["server"]
	waitReadyNodes(t, srv, 2)

	job := sleeperJob("shell", 2)
	job.Meta["mk.scheduler"] = "spread"
	runJob(t, srv, job)
	pods := waitPods(t, srv, "shell", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })
	// Client-only agents leave their pods running when they stop: stop the
	// job first (cleanups run in reverse order).
	t.Cleanup(func() { stopJobAndWait(t, srv, "shell", pods) })
	if pods[0].NodeID == pods[1].NodeID {
		t.Fatalf("both pods on node %s, want one per client", pods[0].NodeName)
	}
	for _, p := range pods {
		for via, cl := range apis {
			ref := p.ID[:8]
			res, err := cl.PodExec(context.Background(), ref, &structs.PodExecBody{
				Command: []string{"sh", "-c", `echo $MK_POD_NAME; echo on stderr >&2; exit 3`}})
			if err != nil {
				t.Fatalf("exec in %s (on %s) via %s: %v", p.Name, p.NodeName, via, err)
			}
			if res.Stdout != p.Name+"\n" || res.Stderr != "on stderr\n" || res.ExitCode != 3 {
				t.Fatalf("exec in %s (on %s) via %s = %+v", p.Name, p.NodeName, via, res)
			}
			stats, err := cl.PodStats(context.Background(), ref)
			if err != nil {
				t.Fatalf("stats of %s (on %s) via %s: %v", p.Name, p.NodeName, via, err)
			}
			ts := stats.Tasks["main"]
			if stats.NodeID != p.NodeID || ts == nil || ts.Usage == nil || ts.Usage.MemoryUsage == 0 || ts.Limits.MemoryMB != 64 {
				t.Fatalf("stats of %s (on %s) via %s = %+v", p.Name, p.NodeName, via, stats)
			}
			_, err = cl.PodExec(context.Background(), ref, &structs.PodExecBody{Task: "nope", Command: []string{"true"}})
			if apiErr := (*api.Error)(nil); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
				t.Fatalf("exec in an unknown task of %s via %s: %v, want 404", p.Name, via, err)
			}
		}
	}

	// A caller that goes away takes its command with it, at once rather
	// than at the command's timeout, also through the server's forwarding.
	const marker = "sleep 61.25"
	running := func() []int {
		var pids []int
		for _, p := range testutil.Procs() {
			if strings.HasSuffix(p.Cmdline, marker) { // the driver runs it by its full path
				pids = append(pids, p.PID)
			}
		}
		return pids
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	execErr := make(chan error, 1)
	go func() {
		_, err := srv.PodExec(ctx, pods[0].ID[:8], &structs.PodExecBody{Command: []string{"sleep", "61.25"}, Timeout: "2m"})
		execErr <- err
	}()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return len(running()) == 1, fmt.Errorf("exec'd %q is not running", marker)
	})
	cancel()
	if err := <-execErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("exec whose caller went away: %v, want context.Canceled", err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return len(running()) == 0, fmt.Errorf("exec'd %q still runs (pids %v) after its caller went away", marker, running())
	})
}

// stopJobAndWait stops a job and waits until the processes of its pods'
// tasks are gone.
func stopJobAndWait(t *testing.T, cl *api.Client, job string, pods []*structs.Pod) {
	t.Helper()
	if _, err := cl.DeregisterJob(context.Background(), job, false); err != nil {
		t.Errorf("stop job %s: %v", job, err)
		return
	}
	for _, p := range pods {
		pid := taskPID(p)
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			return syscall.Kill(pid, 0) != nil, fmt.Errorf("pid %d of pod %s still runs after its job stopped", pid, p.Name)
		})
	}
}
