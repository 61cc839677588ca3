package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// pluginPID finds the `mk plugin exec` child of an agent.
func pluginPID(agentPID int) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// stat: pid (comm) state ppid ...
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(agentPID) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "plugin\x00exec") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no exec plugin under agent %d", agentPID)
}

// TestPluginCrashRecovers: the exec driver runs as `mk plugin exec`; kill
// it and the agent starts it again and recovers the tasks: same PIDs, and
// a stop still reaches them.
func TestPluginCrashRecovers(t *testing.T) {
	addr, agentPID := devAgentProcess(t)
	cl := clientAt(t, addr)
	job := sleeperJob("plug", 2)
	runJob(t, cl, job)
	pods := waitPods(t, cl, "plug", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })
	old, err := pluginPID(agentPID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pid, err := pluginPID(agentPID)
		return err == nil && pid != old, fmt.Errorf("plugin not restarted: %d %v", pid, err)
	})
	for _, p := range pods {
		if err := syscall.Kill(taskPID(p), 0); err != nil {
			t.Fatalf("task of %s (pid %d) died with the plugin", p.Name, taskPID(p))
		}
	}
	// The recovered tasks are still under control: stopping the job ends
	// the very same processes.
	if _, err := cl.DeregisterJob(t.Context(), "plug", false); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		pid := taskPID(p)
		testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
			return syscall.Kill(pid, 0) != nil, fmt.Errorf("pid %d still runs after the job stopped", pid)
		})
	}
}
