package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	mkclient "github.com/mk-orchestrator/mk/client"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// runningExecPod starts a server and a client with the exec driver in
// process, runs a one-task sleeping pod on it and returns the client and
// the pod.
func runningExecPod(t *testing.T) (*mkclient.Client, *structs.Pod) {
	t.Helper()
	n := testutil.NewCluster(t, 1, testutil.ClusterOptions{}).Nodes[0]
	logger := hclog.New(&hclog.LoggerOptions{Name: "client-1", Level: hclog.Warn, Output: os.Stderr})
	cl, err := mkclient.New(&mkclient.Config{NodeName: "client-1", Datacenter: "dc1", DataDir: t.TempDir(),
		Server: n.Config.HTTPAddr(), Address: n.Config.HTTPAddr(),
		Drivers: map[string]drivers.Driver{"exec": exec.New(logger)}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Destroy) // stops the test's processes

	srv, err := api.NewClient(api.Config{Address: n.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	job := &structs.Job{ObjectMeta: structs.ObjectMeta{Name: "shell"}, Groups: []*structs.TaskGroup{{Name: "g", Count: 1,
		Tasks: []*structs.Task{{Name: "main", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"300"}},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 64}}}}}}
	if _, err := srv.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job}); err != nil {
		t.Fatal(err)
	}
	var pod *structs.Pod
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		pods, _, err := srv.Pods(job.Name, nil)
		if err != nil || len(pods) != 1 {
			return false, fmt.Errorf("pods of %s: %d, %v", job.Name, len(pods), err)
		}
		pod = pods[0]
		return cl.CheckExecStreaming(pod.ID, "") == nil, fmt.Errorf("pod %s is %s", pod.Name, pod.Phase)
	})
	return cl, pod
}

// TestExecTaskStreaming runs streaming execs in a real exec-driver task:
// input in, output and exit code out, on pipes and on a terminal; a caller
// that goes away takes its command with it; bad requests fail as the
// non-streaming exec's do.
func TestExecTaskStreaming(t *testing.T) {
	cl, pod := runningExecPod(t)

	t.Run("pipes", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := cl.ExecTaskStreaming(context.Background(), pod.ID, "", &drivers.ExecStreamOptions{
			Command: []string{"/bin/sh", "-c", `read line; echo "got $line in $MK_POD_NAME"; echo oops >&2; exit 3`},
			Stdin:   strings.NewReader("hi\n"), Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		if want := "got hi in " + pod.Name + "\n"; code != 3 || stdout.String() != want || stderr.String() != "oops\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 3, %q, \"oops\\n\"", code, stdout.String(), stderr.String(), want)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		var out bytes.Buffer
		code, err := cl.ExecTaskStreaming(context.Background(), pod.ID, "main", &drivers.ExecStreamOptions{
			Command: []string{"/bin/sh", "-c", "tty; echo oops >&2"}, TTY: true, Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || !strings.HasPrefix(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "oops\r\n") {
			t.Fatalf("exit %d, output %q; want 0 and a /dev/pts terminal with stderr on it", code, out.String())
		}
	})

	t.Run("caller goes away", func(t *testing.T) {
		const marker = "sleep 61.5"
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := cl.ExecTaskStreaming(ctx, pod.ID, "", &drivers.ExecStreamOptions{Command: strings.Fields(marker)})
			done <- err
		}()
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			return len(testutil.PIDsEndingWith(marker)) == 1, fmt.Errorf("exec'd %q is not running", marker)
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("exec whose caller went away: %v, want context.Canceled", err)
		}
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			pids := testutil.PIDsEndingWith(marker)
			return len(pids) == 0, fmt.Errorf("exec'd %q still runs (pids %v) after its caller went away", marker, pids)
		})
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, pod, task string
			cmd             []string
			want            error
		}{
			{"unknown pod", "ffffffff-0000-0000-0000-000000000000", "", []string{"true"}, structs.ErrNotFound},
			{"unknown task", pod.ID, "nope", []string{"true"}, structs.ErrNotFound},
			{"no command", pod.ID, "", nil, structs.ErrBadRequest},
		}
		for _, tc := range tests {
			_, err := cl.ExecTaskStreaming(context.Background(), tc.pod, tc.task, &drivers.ExecStreamOptions{Command: tc.cmd})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if err := cl.CheckExecStreaming(pod.ID, "nope"); !errors.Is(err, structs.ErrNotFound) {
			t.Errorf("check of an unknown task: %v, want not found", err)
		}
	})
}
