package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/waiter"
	"github.com/mk-orchestrator/mk/testutil"
)

// triggeredConfig is a task that waits for trigger, then runs script.
func triggeredConfig(t *testing.T, script string) (*drivers.TaskConfig, func()) {
	t.Helper()
	cfg := testConfig(t, "/bin/sh", "-c", `read x < trigger; `+script)
	fifo := filepath.Join(cfg.TaskDir, "trigger")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	trigger := func() {
		t.Helper()
		// Non-blocking, the open fails until the task reads the FIFO.
		var f *os.File
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			var err error
			f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			return err == nil, fmt.Errorf("the task is not reading its trigger: %w", err)
		})
		defer f.Close()
		if _, err := f.WriteString("go\n"); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, trigger
}

// handleState decodes a handle's driver state.
func handleState(t *testing.T, h *drivers.TaskHandle) *driverState {
	t.Helper()
	st, err := decodeDriverState(h.DriverState)
	if err != nil {
		t.Fatal(err)
	}
	if st.WaiterPID <= 0 || st.ExitFile == "" {
		t.Fatalf("handle has no waiter: %+v", st)
	}
	return st
}

// TestRecoveredTaskExitStatus: a task recovered by a new driver instance
// reports how it really ended, as the waiter saw it.
func TestRecoveredTaskExitStatus(t *testing.T) {
	cases := []struct {
		name           string
		script         string
		kill           bool
		code, signal   int
		wantSuccessful bool
	}{
		{name: "exit 0", script: "exit 0", code: 0, wantSuccessful: true},
		{name: "exit 7", script: "exit 7", code: 7},
		{name: "SIGKILL", kill: true, code: 128 + 9, signal: 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d1 := newTestDriver(t)
			cfg, trigger := triggeredConfig(t, tc.script)
			h, err := d1.StartTask(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d2 := newTestDriver(t)
			if err := d2.RecoverTask(h); err != nil {
				t.Fatal(err)
			}
			if tc.kill {
				if err := syscall.Kill(handleState(t, h).PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			} else {
				trigger()
			}
			res := waitResult(t, d2, cfg.ID, 10*time.Second)
			if res.Err != nil || res.ExitCode != tc.code || res.Signal != tc.signal || res.Successful() != tc.wantSuccessful {
				t.Fatalf("result = %+v, want exit code %d signal %d", res, tc.code, tc.signal)
			}
		})
	}
}

// TestTaskExitsWhileNoDriver: a task that ends between the old driver and
// the new one is recovered as exited, with its exit code.
func TestTaskExitsWhileNoDriver(t *testing.T) {
	d1 := newTestDriver(t)
	cfg, trigger := triggeredConfig(t, "echo bye; exit 7")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := handleState(t, h)
	// d1 is dropped: from here on only the waiter watches the task.
	trigger()
	eventually(t, 10*time.Second, "the waiter to exit", func() bool { return !alive(st.WaiterPID) })
	if alive(st.PID) {
		t.Fatal("the task outlived its waiter")
	}

	d2 := newTestDriver(t)
	if err := d2.RecoverTask(h); err != nil {
		t.Fatalf("recovering a task that exited meanwhile: %v", err)
	}
	status, err := d2.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status.State != drivers.TaskStateExited || status.PID != st.PID {
		t.Fatalf("status = %+v, want exited", status)
	}
	res := waitResult(t, d2, cfg.ID, time.Second)
	if res.Err != nil || res.ExitCode != 7 || res.Signal != 0 {
		t.Fatalf("result = %+v, want exit 7", res)
	}
	if got := readFile(t, cfg.StdoutPath); got != "bye\n" {
		t.Fatalf("stdout = %q", got)
	}

	// DestroyTask removes the exit file: the task cannot be recovered
	// again.
	if err := d2.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.ExitFile); !os.IsNotExist(err) {
		t.Fatalf("exit file left behind: %v", err)
	}
	if err := newTestDriver(t).RecoverTask(h); err == nil {
		t.Fatal("recovered a destroyed task")
	}
}

// TestWaiterOutsideTaskCgroup: the waiter is the task's parent, in its own
// session and outside the task's cgroup (its memory is not the task's);
// the task keeps its own process group.
func TestWaiterOutsideTaskCgroup(t *testing.T) {
	d := newTestDriver(t, Raw())
	cfg := testConfig(t, "/bin/sh", "-c", `sleep 300 & echo $! > child.pid; wait`)
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := handleState(t, h)
	var child int
	eventually(t, 5*time.Second, "the child's pid", func() bool {
		child, _ = strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(cfg.TaskDir, "child.pid"))))
		return child > 0
	})

	tk, err := d.lookup(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := tk.cgroup.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	want := []int{st.PID, child}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Fatalf("cgroup holds %v, want the task and its child %v (waiter %d)", pids, want, st.WaiterPID)
	}
	if ppid := parentPID(t, st.PID); ppid != st.WaiterPID {
		t.Fatalf("task's parent = %d, want the waiter %d", ppid, st.WaiterPID)
	}
	if ppid := parentPID(t, st.WaiterPID); ppid != os.Getpid() {
		t.Fatalf("waiter's parent = %d, want the driver %d", ppid, os.Getpid())
	}
	if sid, _ := unix.Getsid(st.WaiterPID); sid != st.WaiterPID {
		t.Fatalf("waiter's session = %d, want its own", sid)
	}
	if pgid, _ := syscall.Getpgid(st.PID); pgid != st.PID {
		t.Fatalf("task's process group = %d, want its own", pgid)
	}
}

// parentPID reads a process's parent from /proc.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// TestWaiterKilled: a task whose waiter is SIGKILLed keeps running; its
// exit is then seen, with its status unknown, by the driver that started
// it and by one that recovers it.
func TestWaiterKilled(t *testing.T) {
	d1 := newTestDriver(t, Raw())
	cfg := testConfig(t, "sleep", "300")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := handleState(t, h)
	if err := syscall.Kill(st.WaiterPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the waiter to die", func() bool { return !alive(st.WaiterPID) })
	d2 := newTestDriver(t, Raw())
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if s, _ := d1.InspectTask(cfg.ID); !alive(st.PID) || s.State != drivers.TaskStateRunning {
		t.Fatalf("the task died with its waiter: %+v", s)
	}
	if err := d2.StopTask(cfg.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	for i, d := range []*Driver{d1, d2} {
		res := waitResult(t, d, cfg.ID, 5*time.Second)
		if !errors.Is(res.Err, errExitUnknown) {
			t.Fatalf("driver %d: result = %+v, want the status unknown", i+1, res)
		}
	}
}

// TestWaiterKilledIsolated: an isolated task outlives its killed waiter
// too, and its init still records how it ended: both drivers learn the
// real status.
func TestWaiterKilledIsolated(t *testing.T) {
	d1 := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := handleState(t, h)
	if err := syscall.Kill(st.WaiterPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the waiter to die", func() bool { return !alive(st.WaiterPID) })
	d2 := newTestDriver(t)
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if err := d2.StopTask(cfg.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	for i, d := range []*Driver{d1, d2} {
		if res := waitResult(t, d, cfg.ID, 5*time.Second); res.Err != nil || res.Signal != int(syscall.SIGTERM) {
			t.Fatalf("driver %d: result = %+v, want killed by SIGTERM", i+1, res)
		}
	}
}

// TestRecoverHandleWithoutWaiter: a handle written before waiters existed
// is recovered as before: the exit is seen, its status unknown.
func TestRecoverHandleWithoutWaiter(t *testing.T) {
	d1 := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := *handleState(t, h)
	st.WaiterPID, st.WaiterStartTime, st.ExitFile = 0, 0, ""
	b, err := st.encode()
	if err != nil {
		t.Fatal(err)
	}
	d2 := newTestDriver(t)
	if err := d2.RecoverTask(&drivers.TaskHandle{Driver: Name, Config: cfg, DriverState: b}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d2, cfg.ID, 5*time.Second); !errors.Is(res.Err, errExitUnknown) {
		t.Fatalf("result = %+v, want the status unknown", res)
	}
	// The real waiter (d1's child) is done writing before the test's
	// directory goes.
	waitResult(t, d1, cfg.ID, 5*time.Second)
}

// testSpec is a waiter spec for cfg's command.
func testSpec(t *testing.T, cfg *drivers.TaskConfig) (*waiter.Spec, *os.File, *os.File) {
	t.Helper()
	spec, err := newTestDriver(t, Raw()).waiterSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := openLog(cfg.StdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdout.Close() })
	stderr, err := openLog(cfg.StderrPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	return spec, stdout, stderr
}

// waitWaiter waits for a waiter the test started to exit.
func waitWaiter(t *testing.T, l *launched) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.waiter.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = l.waiter.Process.Kill()
		t.Fatal("the waiter did not exit")
	}
}

// TestGateClosedBeforeRelease: a driver that dies before releasing the
// gate closes it: the command never runs, and the waiter records the
// gate's exit and goes.
func TestGateClosedBeforeRelease(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t, "touch", "ran")
	spec, stdout, stderr := testSpec(t, cfg)
	l, err := launch(spec, stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := readTaskPID(l.ctl)
	if err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatal("the task is not held at the gate")
	}
	l.ctl.Close()
	l.gate.Close() // what the driver's death does
	waitWaiter(t, l)
	rec, err := readExitFile(spec.ExitFile)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ExitCode != 125 {
		t.Fatalf("exit = %+v, want the gate's 125", rec)
	}
	if _, err := os.Stat(filepath.Join(cfg.TaskDir, "ran")); !os.IsNotExist(err) {
		t.Fatalf("the command ran without the gate: %v", err)
	}
}

// TestWaiterReportsStartError: a task the waiter cannot start fails the
// start with the reason.
func TestWaiterReportsStartError(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t, "true")
	spec, stdout, stderr := testSpec(t, cfg)
	spec.Dir = filepath.Join(cfg.TaskDir, "gone")
	l, err := launch(spec, stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readTaskPID(l.ctl)
	if err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("err = %v, want the missing directory named", err)
	}
	l.abort()
	if _, err := os.Stat(spec.ExitFile); !os.IsNotExist(err) {
		t.Fatalf("exit file written for a task that never started: %v", err)
	}
}

func TestExitFileRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exit.json")
	if _, err := readExitFile(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
	for _, want := range []waiter.Exit{{}, {ExitCode: 7}, {ExitCode: 137, Signal: 9}, {ExitCode: -1}} {
		if err := waiter.WriteExitFile(p, want); err != nil {
			t.Fatal(err)
		}
		got, err := readExitFile(p)
		if err != nil || *got != want {
			t.Fatalf("read %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
}
