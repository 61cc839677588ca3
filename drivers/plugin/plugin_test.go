package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// TestMain makes the test binary a driver plugin when it is run as
// `BINARY plugin exec`, the way Launch runs `mk plugin exec`; the tests
// then talk to it over real gRPC in a subprocess.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "plugin" && os.Args[2] == exec.Name {
		logger := PluginLogger("driver.exec")
		Serve(exec.New(logger), logger)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testLogger collects host and plugin logs and prints them if the test
// fails.
func testLogger(t *testing.T) hclog.Logger {
	buf := &syncbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("logs:\n" + buf.String())
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf})
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the exec driver needs root: run the tests as root, as make test and CI do")
	}
}

func selfBinary(t *testing.T) string {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func taskConfig(t *testing.T, id string, command string, args ...string) *drivers.TaskConfig {
	dir := t.TempDir()
	return &drivers.TaskConfig{
		ID:    drivers.TaskID(id, "main"),
		PodID: id,
		Name:  "main",
		Task: &structs.Task{
			Name: "main", Driver: exec.Name,
			Config:    &structs.TaskConfig{Command: command, Args: args},
			Env:       map[string]string{"WHO": "plugin"},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 64},
		},
		TaskDir:    dir,
		StdoutPath: filepath.Join(dir, "stdout.log"),
		StderrPath: filepath.Join(dir, "stderr.log"),
	}
}

func waitExit(t *testing.T, ch <-chan *drivers.ExitResult, within time.Duration) *drivers.ExitResult {
	t.Helper()
	select {
	case res, ok := <-ch:
		if !ok || res == nil {
			t.Fatal("wait channel closed without a result")
		}
		return res
	case <-time.After(within):
		t.Fatalf("no exit within %s", within)
	}
	return nil
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, within, func() (bool, error) {
		return cond(), fmt.Errorf("waiting for %s", what)
	})
}

func TestPluginOverGRPC(t *testing.T) {
	requireRoot(t)
	d, client, err := Launch(selfBinary(t), exec.Name, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Kill()

	fp, err := d.Fingerprint(context.Background())
	if err != nil || !fp.Healthy || fp.Attributes["driver.exec.cgroup"] == "" {
		t.Fatalf("fingerprint = %+v, %v", fp, err)
	}

	cfg := taskConfig(t, "pod-grpc-1", "/bin/sh", "-c", `echo hi $WHO; exit 3`)
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h.Driver != exec.Name || h.Config.Task.Config.Command != "/bin/sh" || len(h.DriverState) == 0 {
		t.Fatalf("handle = %+v", h)
	}
	ch, err := d.WaitTask(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, ch, 10*time.Second); res.ExitCode != 3 || res.Err != nil {
		t.Fatalf("result = %+v, want exit 3", res)
	}
	if b, _ := os.ReadFile(cfg.StdoutPath); string(b) != "hi plugin\n" {
		t.Fatalf("stdout = %q", b)
	}
	st, err := d.InspectTask(cfg.ID)
	if err != nil || st.State != drivers.TaskStateExited || st.ExitResult.ExitCode != 3 {
		t.Fatalf("inspect = %+v, %v", st, err)
	}
	if err := d.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	// Error kinds survive the wire.
	if _, err := d.InspectTask(cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("err = %v, want ErrTaskNotFound", err)
	}
	if _, err := d.WaitTask(context.Background(), "no/such"); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("err = %v, want ErrTaskNotFound", err)
	}
}

func TestPluginStopStatsExec(t *testing.T) {
	requireRoot(t)
	d, client, err := Launch(selfBinary(t), exec.Name, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Kill()
	cfg := taskConfig(t, "pod-grpc-2", "sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DestroyTask(cfg.ID, true) }()
	if err := d.DestroyTask(cfg.ID, false); !errors.Is(err, drivers.ErrTaskRunning) {
		t.Fatalf("err = %v, want ErrTaskRunning", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stats, err := d.TaskStats(ctx, cfg.ID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if u := <-stats; u == nil || u.MemoryUsage == 0 || u.Timestamp == 0 {
		t.Fatalf("stats = %+v", u)
	}
	cancel()

	res, err := d.ExecTask(context.Background(), cfg.ID, []string{"/bin/sh", "-c", "echo $WHO; exit 2"}, 5*time.Second)
	if err != nil || string(res.Stdout) != "plugin\n" || res.ExitCode != 2 {
		t.Fatalf("exec = %+v, %v", res, err)
	}
	// A command that outlives its timeout is killed; the kind crosses the
	// wire.
	if _, err := d.ExecTask(context.Background(), cfg.ID, []string{"/bin/sleep", "30"}, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec past its timeout: err = %v, want DeadlineExceeded", err)
	}
	// A caller that goes away takes its command with it, well before the
	// command's timeout. The command is found by a marker argument: a
	// PID it would print itself is its PID namespace's, not the host's.
	marker := fmt.Sprintf("60.%d", os.Getpid())
	execCtx, cancelExec := context.WithCancel(context.Background())
	go func() {
		_ = testutil.Wait(5*time.Second, func() (bool, error) {
			return len(testutil.PIDsEndingWith(marker)) == 1, nil
		})
		cancelExec()
	}()
	start := time.Now()
	_, err = d.ExecTask(execCtx, cfg.ID, []string{"/bin/sleep", marker}, time.Minute)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("exec whose caller went away: err = %v after %s, want Canceled at once", err, time.Since(start))
	}
	testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
		pids := testutil.PIDsEndingWith(marker)
		return len(pids) == 0, fmt.Errorf("exec'd command still runs: %v", pids)
	})

	ch, err := d.WaitTask(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.StopTask(cfg.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, ch, 5*time.Second); r.Signal != int(syscall.SIGTERM) {
		t.Fatalf("result = %+v, want SIGTERM", r)
	}
}

func TestSupervisorRecoversTasksOfCrashedPlugin(t *testing.T) {
	requireRoot(t)
	s, err := NewSupervisor(selfBinary(t), exec.Name, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	cfg := taskConfig(t, "pod-sup-1", "sleep", "300")
	if _, err := s.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.DestroyTask(cfg.ID, true) }()
	before, err := s.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	wait, err := s.WaitTask(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}

	oldPID := s.PluginPID()
	if oldPID == 0 {
		t.Fatal("no plugin pid")
	}
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the plugin to be relaunched", func() bool { return s.Restarts() == 1 })
	if pid := s.PluginPID(); pid == oldPID || pid == 0 {
		t.Fatalf("plugin pid = %d after restart, was %d", pid, oldPID)
	}

	// The task kept running and the new plugin knows it.
	after, err := s.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != drivers.TaskStateRunning || after.PID != before.PID {
		t.Fatalf("after restart: %+v, want running pid %d", after, before.PID)
	}
	select {
	case res := <-wait:
		t.Fatalf("wait ended by the plugin crash: %+v", res)
	default:
	}

	// The wait begun before the crash reports the stop done after it.
	if err := s.StopTask(cfg.ID, 5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	// The task's waiter outlived the plugin: its status is known.
	res := waitExit(t, wait, 10*time.Second)
	if res.Signal != int(syscall.SIGTERM) || res.Err != nil {
		t.Fatalf("result = %+v, want the SIGTERM sent after recovery", res)
	}
}

// TestPluginTaskMounts: a task's mounts cross the wire: the task sees its
// volume, and so do commands run in it after its plugin crashed and the
// supervisor recovered it from the handle the plugin returned.
func TestPluginTaskMounts(t *testing.T) {
	requireRoot(t)
	s, err := NewSupervisor(selfBinary(t), exec.Name, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "srv")
	if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("from the volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := taskConfig(t, "pod-mounts-1", "/bin/sh", "-c", `cat "$DST/index.html"; exec sleep 300`)
	cfg.Task.Env["DST"] = dst
	cfg.Mounts = []*drivers.MountConfig{{Volume: "shared", HostPath: src, TaskPath: dst, ReadOnly: true}}
	h, err := s.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.DestroyTask(cfg.ID, true) }()
	if len(h.Config.Mounts) != 1 || *h.Config.Mounts[0] != *cfg.Mounts[0] {
		t.Fatalf("handle's mounts = %v, want %v", h.Config.Mounts, cfg.Mounts)
	}
	eventually(t, 10*time.Second, "the task's output", func() bool {
		b, _ := os.ReadFile(cfg.StdoutPath)
		return string(b) == "from the volume\n"
	})

	if err := syscall.Kill(s.PluginPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the plugin to be relaunched", func() bool { return s.Restarts() == 1 })
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		res, err := s.ExecTask(context.Background(), cfg.ID, []string{"cat", filepath.Join(dst, "index.html")}, 5*time.Second)
		if err != nil {
			return false, err
		}
		return string(res.Stdout) == "from the volume\n", fmt.Errorf("exec after recovery = %+v", res)
	})
}
