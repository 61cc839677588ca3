package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func TestFingerprint(t *testing.T) {
	d := newTestDriver(t, Config{})
	fp, err := d.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fp.Detected || !fp.Healthy {
		t.Fatalf("fingerprint: %+v", fp)
	}
	if fp.Attributes["driver.docker.version"] == "" || !strings.Contains(fp.Attributes["driver.docker.images"], testImage) {
		t.Fatalf("attributes: %v", fp.Attributes)
	}
}

func TestFingerprintNoEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	d, err := New(testLogger(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fp, err := d.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fp.Healthy || !strings.Contains(fp.Description, "unreachable") {
		t.Fatalf("fingerprint without an Engine: %+v", fp)
	}
}

func TestExitCodesAndLogs(t *testing.T) {
	d := newTestDriver(t, Config{})
	for _, tc := range []struct {
		name, script string
		code         int
	}{
		{"zero", `echo "out $GREETING"; echo err >&2`, 0},
		{"nonzero", `echo "out $GREETING"; echo err >&2; exit 3`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := taskConfig(t, tc.name, tc.script)
			start(t, d, cfg)
			res := waitExit(t, d, cfg.ID, 30*time.Second)
			if res.ExitCode != tc.code || res.Err != nil || res.OOMKilled {
				t.Fatalf("exit: %+v, want code %d", res, tc.code)
			}
			if got := readFile(t, cfg.StdoutPath); got != "out hello\n" {
				t.Errorf("stdout = %q", got)
			}
			if got := readFile(t, cfg.StderrPath); got != "err\n" {
				t.Errorf("stderr = %q", got)
			}
			st, err := d.InspectTask(cfg.ID)
			if err != nil || st.State != drivers.TaskStateExited || st.ExitResult.ExitCode != tc.code {
				t.Fatalf("inspect: %+v, %v", st, err)
			}
			if err := d.DestroyTask(cfg.ID, false); err != nil {
				t.Fatal(err)
			}
			if _, err := d.InspectTask(cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
				t.Fatalf("inspect after destroy: %v", err)
			}
		})
	}
}

func TestStopGraceAndKill(t *testing.T) {
	d := newTestDriver(t, Config{})
	for _, tc := range []struct {
		name, script string
		code, signal int
	}{
		// A task that traps SIGTERM exits cleanly within the timeout.
		{"graceful", `trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done`, 0, 0},
		// One that ignores it is killed after the timeout.
		{"killed", `trap '' TERM; echo ready; while true; do sleep 0.1; done`, 137, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := taskConfig(t, tc.name, tc.script)
			start(t, d, cfg)
			testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
				return strings.Contains(readFile(t, cfg.StdoutPath), "ready"), nil
			})
			if err := d.DestroyTask(cfg.ID, false); !errors.Is(err, drivers.ErrTaskRunning) {
				t.Fatalf("destroy of a running task: %v", err)
			}
			began := time.Now()
			if err := d.StopTask(cfg.ID, 2*time.Second, "SIGTERM"); err != nil {
				t.Fatal(err)
			}
			res := waitExit(t, d, cfg.ID, 10*time.Second)
			if res.ExitCode != tc.code || res.Signal != tc.signal {
				t.Fatalf("exit after stop: %+v, want code %d signal %d", res, tc.code, tc.signal)
			}
			if took := time.Since(began); tc.code == 0 && took > 2*time.Second {
				t.Errorf("graceful stop took %s", took)
			}
		})
	}
}

func TestOOMKillReported(t *testing.T) {
	d := newTestDriver(t, Config{})
	cfg := taskConfig(t, "oom", `dd if=/dev/zero of=/dev/null bs=64M count=1`)
	cfg.Task.Resources = &structs.Resources{CPU: 100, MemoryMB: 16}
	start(t, d, cfg)
	res := waitExit(t, d, cfg.ID, 30*time.Second)
	if !res.OOMKilled {
		t.Fatalf("exit: %+v, want OOMKilled", res)
	}
}

func TestExec(t *testing.T) {
	d := newTestDriver(t, Config{})
	cfg := taskConfig(t, "exec", `echo ready; exec sleep 300`)
	start(t, d, cfg)
	for _, tc := range []struct {
		name   string
		cmd    []string
		code   int
		stdout string
	}{
		{"env", []string{"sh", "-c", "echo $GREETING"}, 0, "hello\n"},
		{"exit code", []string{"sh", "-c", "exit 7"}, 7, ""},
		{"not found", []string{"/no/such/command"}, 127, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.ExecTask(context.Background(), cfg.ID, tc.cmd, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.code || (tc.stdout != "" && string(res.Stdout) != tc.stdout) {
				t.Fatalf("exec %v: code %d stdout %q stderr %q", tc.cmd, res.ExitCode, res.Stdout, res.Stderr)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		began := time.Now()
		_, err := d.ExecTask(context.Background(), cfg.ID, []string{"sleep", "30"}, 500*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 10*time.Second {
			t.Fatalf("exec past its timeout: %v after %s", err, time.Since(began))
		}
	})
	t.Run("stdin", func(t *testing.T) {
		var out strings.Builder
		code, err := d.ExecTaskStreaming(context.Background(), cfg.ID, &drivers.ExecStreamOptions{
			Command: []string{"cat"}, Stdin: strings.NewReader("piped\n"), Stdout: &out, Stderr: &out})
		if err != nil || code != 0 || out.String() != "piped\n" {
			t.Fatalf("streaming exec: code %d, %v, output %q", code, err, out.String())
		}
	})
}

func TestStats(t *testing.T) {
	d := newTestDriver(t, Config{})
	cfg := taskConfig(t, "stats", `while true; do :; done`)
	start(t, d, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := d.TaskStats(ctx, cfg.ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got []*drivers.TaskResourceUsage
	for u := range ch {
		got = append(got, u)
		if len(got) == 3 {
			break
		}
	}
	if len(got) < 3 || got[2].MemoryUsage == 0 || got[2].CPUPercent < 10 || got[2].CPUTotalNanos == 0 {
		t.Fatalf("stats: %+v", got)
	}
}

func TestPullPolicies(t *testing.T) {
	d := newTestDriver(t, Config{PullTimeout: 5 * time.Second})
	for _, tc := range []struct {
		name, image, pull string
		within            time.Duration
		want              string
	}{
		{"absent with never", "mk/absent:nope", structs.PullNever, 5 * time.Second, `is not on this node and pull = "never"`},
		{"always without a registry", testImage, structs.PullAlways, 20 * time.Second, "pull image " + testImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := taskConfig(t, "pull", "true")
			cfg.Task.Config.Image, cfg.Task.Config.Pull = tc.image, tc.pull
			began := time.Now()
			_, err := d.StartTask(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want an error with %q", err, tc.want)
			}
			if took := time.Since(began); took > tc.within {
				t.Fatalf("failed after %s, want within %s", took, tc.within)
			}
		})
	}
}

func TestContainerRemovedBehindMksBack(t *testing.T) {
	d := newTestDriver(t, Config{})
	cfg := taskConfig(t, "removed", `exec sleep 300`)
	h := start(t, d, cfg)
	st, _ := decodeState(h.DriverState)
	if err := d.docker.ContainerRemove(context.Background(), st.ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, d, cfg.ID, 30*time.Second)
	if res.Err == nil || res.Successful() {
		t.Fatalf("exit of a removed container: %+v", res)
	}
}

func TestReconcileRemovesOrphans(t *testing.T) {
	d := newTestDriver(t, Config{})
	live := taskConfig(t, "live", `exec sleep 300`)
	start(t, d, live)
	orphan := taskConfig(t, "orphan", `exec sleep 300`)
	oh := start(t, d, orphan)
	ost, _ := decodeState(oh.DriverState)
	// Its client forgot it (a crash before the handle was persisted).
	d.mu.Lock()
	delete(d.tasks, orphan.ID)
	d.mu.Unlock()
	var removed []string
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		r, err := d.Reconcile(context.Background(), testNode, []string{live.PodID})
		removed = append(removed, r...)
		return len(removed) > 0, err
	})
	if _, err := d.docker.ContainerInspect(context.Background(), ost.ContainerID); !cerrdefs.IsNotFound(err) {
		t.Fatalf("orphan still there: %v (removed %v)", err, removed)
	}
	if st, err := d.InspectTask(live.ID); err != nil || st.State != drivers.TaskStateRunning {
		t.Fatalf("live task: %+v, %v", st, err)
	}
}
