package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// counterJob is a docker task that prints 1, 2, 3, … five times a second.
func counterJob(name string) *structs.Job {
	j := testJob(name, "1")
	j.Groups[0].Tasks[0].Driver = structs.DriverDocker
	j.Groups[0].Tasks[0].Config = &structs.TaskConfig{Image: "mk/busybox:test", Pull: structs.PullNever,
		Command: "/bin/sh", Args: []string{"-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.2; done"}}
	return j
}

// consecutive checks that the log is 1, 2, 3, … and returns its length.
func consecutive(log string) (int, error) {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i, l := range lines {
		if l != strconv.Itoa(i+1) {
			return 0, fmt.Errorf("log line %d is %q (gap or duplicate)", i+1, l)
		}
	}
	return len(lines), nil
}

// TestDockerSurvivesClientAndPluginKill: kill -9 of the agent, then of
// its docker plugin: the container keeps running and is adopted each time
// (same container ID, no restart counted, the Recovered event), and its
// log goes on without gaps or duplicates.
func TestDockerSurvivesClientAndPluginKill(t *testing.T) {
	requireDocker(t)
	a := testutil.NewClientAgent(t, "agent-1")
	cl := clientAt(t, a.Addr())
	runJob(t, cl, counterJob("count"))
	pod := waitPods(t, cl, "count", 1, running)[0]
	containers := dockerPS(t, pod.ID)
	logs := func() string {
		out, _, _ := runMk(t, a.Addr(), "pod", "logs", pod.ID)
		return out
	}
	// The log grows past n, and is whole.
	grows := func(n int) int {
		var got int
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			var err error
			got, err = consecutive(logs())
			return err == nil && got > n+5, err
		})
		return got
	}
	adopted := func(what string) {
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			pods, _, err := cl.Pods("count", nil)
			if err != nil || len(pods) != 1 {
				return false, fmt.Errorf("pods: %d, %v", len(pods), err)
			}
			ts := pods[0].TaskStates["main"]
			if !running(pods[0]) || ts.Restarts != 0 {
				return false, fmt.Errorf("after %s: running=%v restarts %d", what, running(pods[0]), ts.Restarts)
			}
			return true, nil
		})
		if now := dockerPS(t, pod.ID); strings.Join(now, "\n") != strings.Join(containers, "\n") {
			t.Fatalf("after %s the containers are %v, were %v", what, now, containers)
		}
	}
	n := grows(0)

	a.Kill()
	if now := dockerPS(t, pod.ID); strings.Join(now, "\n") != strings.Join(containers, "\n") {
		t.Fatalf("after kill -9 the containers are %v, were %v", now, containers)
	}
	a.Restart()
	cl = clientAt(t, a.Addr())
	adopted("kill -9 of the agent")
	n = grows(n)

	plugins := testutil.ChildPIDs(a.PID(), "plugin docker")
	if len(plugins) != 1 {
		t.Fatalf("agent runs %d docker plugins, want 1", len(plugins))
	}
	if err := syscall.Kill(plugins[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		p := testutil.ChildPIDs(a.PID(), "plugin docker")
		return len(p) == 1 && p[0] != plugins[0], fmt.Errorf("docker plugin not restarted: %v", p)
	})
	adopted("kill of the docker plugin")
	grows(n)

	if _, err := cl.DeregisterJob(t.Context(), "count", false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		return len(dockerPS(t, pod.ID)) == 0, fmt.Errorf("containers left: %v", dockerPS(t, pod.ID))
	})
}
