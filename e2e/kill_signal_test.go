package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
)

// killSignalJob is one pod with a docker and an exec task that both stop
// on SIGINT only: SIGTERM would make them say so and fail.
const killSignalJob = `job "graceful" {
  type = "service"
  group "g" {
    task "box" {
      driver       = "docker"
      kill_signal  = "SIGINT"
      kill_timeout = "30s"
      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "sh"
        args    = ["-c", "` + trapScript + `"]
      }
      resources {
        cpu    = 100
        memory = 16
      }
    }
    task "proc" {
      driver       = "exec"
      kill_signal  = "INT"
      kill_timeout = "30s"
      config {
        command = "/bin/sh"
        args    = ["-c", "` + trapScript + `"]
      }
      resources {
        cpu    = 100
        memory = 16
      }
    }
  }
}
`

const trapScript = `trap 'echo trapped INT; exit 0' INT; trap 'echo trapped TERM; exit 1' TERM; echo ready; while true; do sleep 0.1; done`

// TestKillSignal: a task's kill_signal is what stopping it sends, for the
// docker and the exec driver alike, and a task that exits on it is not
// held for its kill_timeout.
func TestKillSignal(t *testing.T) {
	requireDocker(t)
	addr := devAgent(t)
	if out, errOut, code := runMk(t, addr, "job", "run", writeJob(t, "graceful.hcl", killSignalJob)); code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	podID := onlyPod(t, addr, "graceful")
	logs := func(task string) string {
		out, _, _ := runMk(t, addr, "pod", "logs", "-task", task, podID)
		return out
	}
	for _, task := range []string{"box", "proc"} {
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) { return strings.Contains(logs(task), "ready"), nil })
	}
	start := time.Now()
	if out, errOut, code := runMk(t, addr, "job", "stop", "graceful"); code != 0 {
		t.Fatalf("job stop: %d\n%s%s", code, out, errOut)
	}
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) { return len(dockerPS(t, podID)) == 0, nil })
	for _, task := range []string{"box", "proc"} {
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			out := logs(task)
			return strings.Contains(out, "trapped INT") && !strings.Contains(out, "trapped TERM"), nil
		})
	}
	// Well inside the 30s kill_timeout: the tasks exited on the signal.
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("stop took %v: the tasks were held until SIGKILL", took)
	}
}
