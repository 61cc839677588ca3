package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/testutil"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// seqLines is "from\n...to\n".
func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// TestCLIPodLogsTail: `pod logs -tail [-n N]` prints the last lines, and
// `-f` starts with the last lines, then follows what the task writes.
func TestCLIPodLogsTail(t *testing.T) {
	addr := devAgent(t)
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	dir := testutil.HostDir(t)
	marker := filepath.Join(dir, "go-on")
	// The task prints 1..25, then "after" once the test creates marker.
	job := fmt.Sprintf(`job "logs" {
  group "logs" {
    count = 1
    task "seq" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "seq 1 25; while [ ! -e %s ]; do sleep 0.1; done; echo after; sleep 3600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
`, marker)
	file := filepath.Join(dir, "logs.hcl")
	if err := os.WriteFile(file, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runMk(t, addr, "job", "run", file); code != 0 {
		t.Fatalf("job run: exit %d: %s", code, stderr)
	}
	var pod string
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("logs", nil)
		if err != nil || len(pods) != 1 || !running(pods[0]) {
			return false, fmt.Errorf("pods %v, %v", pods, err)
		}
		var log bytes.Buffer
		if err := cl.PodLogs(context.Background(), pods[0].ID, "", false, false, &log); err != nil {
			return false, err
		}
		pod = pods[0].ID[:8]
		return log.String() == seqLines(1, 25), fmt.Errorf("log %q", log.String())
	})

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"pod", "logs", pod}, seqLines(1, 25)},
		{[]string{"pod", "logs", "-tail", pod}, seqLines(16, 25)},
		{[]string{"pod", "logs", "-tail", "-n", "3", pod}, seqLines(23, 25)},
		{[]string{"pod", "logs", "-n", "50", pod}, seqLines(1, 25)},
	}
	for _, tc := range tests {
		stdout, stderr, code := runMk(t, addr, tc.args...)
		if code != 0 || stdout != tc.want || stderr != "" {
			t.Errorf("mk %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.want)
		}
	}
	if _, stderr, code := runMk(t, addr, "pod", "logs", "-n", "0", pod); code != 1 || !strings.HasPrefix(stderr, "Error: -n must be a number of lines >= 1, got 0\n") {
		t.Errorf("-n 0: exit %d, stderr %q", code, stderr)
	}

	// -f: the last 10 lines, then what comes.
	cmd := exec.Command(testutil.MkBinary(t), "pod", "logs", "-address", addr, "-f", pod)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return out.String() == seqLines(16, 25), fmt.Errorf("-f printed %q", out.String())
	})
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return out.String() == seqLines(16, 25)+"after\n", fmt.Errorf("-f printed %q", out.String())
	})
}
