package exec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// requireRoot skips tests that need root and cgroups where they truly
// cannot run; CI runs them as root.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the exec driver needs root: run the tests as root, as make test and CI do")
	}
	if cgroupVersion() == 0 {
		t.Fatal("no cgroup hierarchy mounted under /sys/fs/cgroup: the exec driver needs one")
	}
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestDriver returns a driver whose tasks are destroyed when the test
// ends.
func newTestDriver(t *testing.T, opts ...Option) *Driver {
	requireRoot(t)
	d := New(testLogger(t), opts...)
	t.Cleanup(func() {
		d.mu.RLock()
		ids := make([]string, 0, len(d.tasks))
		for id := range d.tasks {
			ids = append(ids, id)
		}
		d.mu.RUnlock()
		for _, id := range ids {
			if err := d.DestroyTask(id, true); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return d
}

// testConfig is a task config running command with args in a fresh
// directory.
func testConfig(t testing.TB, command string, args ...string) *drivers.TaskConfig {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	pod := "pod-" + hex.EncodeToString(b)
	dir := t.TempDir()
	return &drivers.TaskConfig{
		ID:    drivers.TaskID(pod, "web"),
		PodID: pod,
		Name:  "web",
		Task: &structs.Task{
			Name:      "web",
			Driver:    Name,
			Config:    &structs.TaskConfig{Command: command, Args: args},
			Env:       map[string]string{"GREETING": "hello"},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 64},
		},
		TaskDir:    dir,
		StdoutPath: filepath.Join(dir, "logs", "stdout.log"),
		StderrPath: filepath.Join(dir, "logs", "stderr.log"),
	}
}

// waitResult waits for the task's exit result with a deadline.
func waitResult(t *testing.T, d drivers.Driver, id string, within time.Duration) *drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	ch, err := d.WaitTask(ctx, id)
	if err != nil {
		t.Fatalf("WaitTask: %v", err)
	}
	res, ok := <-ch
	if !ok || res == nil {
		t.Fatalf("task %s did not exit within %s", id, within)
	}
	return res
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, within, func() (bool, error) {
		return cond(), fmt.Errorf("waiting for %s", what)
	})
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// alive reports whether pid runs (a zombie counts as dead).
func alive(pid int) bool {
	_, err := procStartTime(pid)
	return err == nil
}

func TestFingerprintHealthyAsRoot(t *testing.T) {
	requireRoot(t)
	fp, err := New(nil).Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fp.Detected || !fp.Healthy {
		t.Fatalf("fingerprint = %+v, want detected and healthy", fp)
	}
	if v := fp.Attributes["driver.exec.cgroup"]; v != "v1" && v != "v2" {
		t.Fatalf("cgroup attribute = %q", v)
	}
}

func TestExitCodeAndLogs(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "/bin/sh", "-c", `echo hi $GREETING; echo err >&2; exit 3`)
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h.Driver != Name || h.TaskID() != cfg.ID || len(h.DriverState) == 0 {
		t.Fatalf("bad handle %+v", h)
	}
	res := waitResult(t, d, cfg.ID, 10*time.Second)
	if res.ExitCode != 3 || res.Signal != 0 || res.OOMKilled || res.Err != nil {
		t.Fatalf("result = %+v, want exit 3", res)
	}
	if got := readFile(t, cfg.StdoutPath); got != "hi hello\n" {
		t.Fatalf("stdout = %q", got)
	}
	if got := readFile(t, cfg.StderrPath); got != "err\n" {
		t.Fatalf("stderr = %q", got)
	}
	st, err := d.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != drivers.TaskStateExited || st.ExitResult.ExitCode != 3 || st.CompletedAt < st.StartedAt {
		t.Fatalf("status = %+v", st)
	}
}

func TestWorkDirFromConfig(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "pwd")
	wd := t.TempDir()
	cfg.Task.Config.WorkDir = wd
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, cfg.ID, 10*time.Second); !res.Successful() {
		t.Fatalf("result = %+v", res)
	}
	if got := strings.TrimSpace(readFile(t, cfg.StdoutPath)); got != wd {
		t.Fatalf("pwd = %q, want %q", got, wd)
	}
}

func TestRunsAsUser(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "id", "-u")
	cfg.Task.User = "nobody"
	// t.TempDir's directories are 0700: let nobody into the task dir.
	for _, p := range []string{filepath.Dir(cfg.TaskDir), cfg.TaskDir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, cfg.ID, 10*time.Second); !res.Successful() {
		t.Fatalf("result = %+v", res)
	}
	if got := strings.TrimSpace(readFile(t, cfg.StdoutPath)); got != "65534" {
		t.Fatalf("uid = %q, want nobody's", got)
	}
	bad := testConfig(t, "true")
	bad.Task.User = "mk-no-such-user"
	if _, err := d.StartTask(bad); err == nil || !strings.Contains(err.Error(), "mk-no-such-user") {
		t.Fatalf("err = %v, want unknown user named", err)
	}
}

func TestStopTaskSIGTERM(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.StopTask(cfg.ID, 5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("stop took %s; SIGTERM should end sleep at once", took)
	}
	res := waitResult(t, d, cfg.ID, time.Second)
	if res.Signal != int(syscall.SIGTERM) || res.ExitCode != 128+15 {
		t.Fatalf("result = %+v, want SIGTERM", res)
	}
}

func TestStopTaskKillsAfterTimeout(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "/bin/sh", "-c", `trap "" TERM; echo ready; exec sleep 300`)
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the trap", func() bool { return strings.Contains(readFile(t, cfg.StdoutPath), "ready") })
	start := time.Now()
	if err := d.StopTask(cfg.ID, time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("stop took %s, before the 1s timeout", took)
	}
	res := waitResult(t, d, cfg.ID, time.Second)
	if res.Signal != int(syscall.SIGKILL) {
		t.Fatalf("result = %+v, want SIGKILL", res)
	}
}

func TestStopTaskKillsProcessGroup(t *testing.T) {
	d := newTestDriver(t, Raw())
	cfg := testConfig(t, "/bin/sh", "-c", `sleep 300 & echo $! > child.pid; wait`)
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(cfg.TaskDir, "child.pid")
	var child int
	eventually(t, 5*time.Second, "the child's pid", func() bool {
		child, _ = strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
		return child > 0
	})
	st, _ := decodeDriverState(h.DriverState)
	if !alive(child) || !alive(st.PID) {
		t.Fatal("task or child not running")
	}
	if err := d.StopTask(cfg.ID, 5*time.Second, "TERM"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the child to die", func() bool { return !alive(child) })
	if alive(st.PID) {
		t.Fatal("task still running")
	}
}

func TestStartErrors(t *testing.T) {
	d := newTestDriver(t)
	cases := []struct {
		name, want string
		mutate     func(*drivers.TaskConfig)
	}{
		{"missing absolute binary", "/no/such/binary", func(c *drivers.TaskConfig) { c.Task.Config.Command = "/no/such/binary" }},
		{"missing binary in PATH", "mk-no-such-command", func(c *drivers.TaskConfig) { c.Task.Config.Command = "mk-no-such-command" }},
		{"bad work dir", "/no/such/dir", func(c *drivers.TaskConfig) { c.Task.Config.WorkDir = "/no/such/dir" }},
		{"no command", "no command", func(c *drivers.TaskConfig) { c.Task.Config.Command = "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "true")
			tc.mutate(cfg)
			_, err := d.StartTask(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if _, err := d.InspectTask(cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
				t.Fatalf("failed task left behind: %v", err)
			}
		})
	}
}

func TestOOMKilled(t *testing.T) {
	d := newTestDriver(t)
	// tail keeps the whole of a "line" of /dev/zero in memory: it grows
	// until the 32 MB limit stops it.
	cfg := testConfig(t, "tail", "/dev/zero")
	cfg.Task.Resources.MemoryMB = 32
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, d, cfg.ID, 30*time.Second)
	if !res.OOMKilled || res.Signal != int(syscall.SIGKILL) {
		t.Fatalf("result = %+v, want OOM killed", res)
	}
}

func TestDestroyRunningNeedsForce(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	if err := d.DestroyTask(cfg.ID, false); !errors.Is(err, drivers.ErrTaskRunning) {
		t.Fatalf("err = %v, want ErrTaskRunning", err)
	}
	if err := d.DestroyTask(cfg.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.InspectTask(cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("err = %v, want ErrTaskNotFound", err)
	}
}
