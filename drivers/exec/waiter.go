package exec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/waiter"
)

// The driver's side of the task's waiter (internal/waiter, whose package
// comment says what it is): launch a task through it, learn the task's
// exit from it, and find it again after a restart.

// WaiterCommand is the `mk plugin` argument that runs the waiter.
const WaiterCommand = waiter.Command

// WaiterMain runs the waiter for `mk plugin exec-waiter`. The driver's
// waiters never get there (they run from an init function, see
// internal/waiter): started by hand, it says it is internal.
func WaiterMain() int { return waiter.Main() }

// waiterBinary is what runs as the waiter: the driver's own binary through
// its /proc link, which still names the running program after an upgrade
// replaced the file on disk, so the waiter always speaks the driver's
// spec.
var waiterBinary = "/proc/self/exe"

// waiterName is the waiter's argv[0], for people reading ps.
var waiterName = sync.OnceValue(func() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "mk"
})

// waiterStartTimeout bounds how long StartTask waits for the waiter to
// report the task's PID.
const waiterStartTimeout = 30 * time.Second

// launched is a task being started by its waiter, then held at the gate.
type launched struct {
	waiter *osexec.Cmd
	// ctl is the read end of the waiter's report.
	ctl *os.File
	// gate is the gate's write end, which only the driver holds.
	gate *os.File
	// pid is the task's PID (and process group ID), once reported.
	pid int
}

// launch starts a waiter that starts spec's command held at the gate,
// with stdout and stderr as its output. It does not wait for the waiter:
// the caller calls place.
func launch(spec *waiter.Spec, stdout, stderr *os.File) (*launched, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("waiter pipe: %w", err)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("gate pipe: %w", err)
	}
	cmd := &osexec.Cmd{Path: waiterBinary, Args: []string{waiterName(), "plugin", waiter.Command}}
	// One task to wait for: no thread per CPU. A binary built with -race
	// (tests) would sleep a second at exit, delaying every task's exit.
	// The task's environment is in the spec; it inherits nothing of this.
	cmd.Env = []string{waiter.EnvMarker + "=1", "GOMAXPROCS=1", "GORACE=atexit_sleep_ms=0"}
	cmd.Stdin = bytes.NewReader(spec.Encode())
	// In the order of waiter.CtlFD, GateFD, StdoutFD and StderrFD.
	cmd.ExtraFiles = []*os.File{ctlW, gateR, stdout, stderr}
	// Its own session: signals to the driver's process group (a terminal,
	// a supervisor) do not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	// The children hold these now; the driver's copies would keep the
	// gate open (and the control pipe from seeing EOF) after they die.
	ctlW.Close()
	gateR.Close()
	if err != nil {
		ctlR.Close()
		gateW.Close()
		return nil, fmt.Errorf("start waiter: %w", err)
	}
	return &launched{waiter: cmd, ctl: ctlR, gate: gateW}, nil
}

// place waits for the waiter to start the task, moves the task into cg
// and lets it run. It returns the task's driver state but for ExitFile.
func (l *launched) place(cg taskCgroup) (driverState, error) {
	pid, err := readTaskPID(l.ctl)
	l.ctl.Close()
	if err != nil {
		return driverState{}, err
	}
	l.pid = pid
	st := driverState{PID: pid, StartedAt: time.Now().UnixNano(), Cgroup: cg.State(), WaiterPID: l.waiter.Process.Pid}
	if st.StartTime, err = procStartTime(st.PID); err != nil {
		return driverState{}, err
	}
	if st.WaiterStartTime, err = procStartTime(st.WaiterPID); err != nil {
		return driverState{}, err
	}
	if err := cg.Add(st.PID); err != nil {
		return driverState{}, err
	}
	return st, l.release()
}

// release lets the task exec its command.
func (l *launched) release() error {
	defer l.gate.Close()
	if _, err := l.gate.Write([]byte("go\n")); err != nil {
		return fmt.Errorf("release gate: %w", err)
	}
	return nil
}

// abort kills the task, started or not (a task at the closed gate ends
// by itself), and its waiter, which may be what failed.
func (l *launched) abort() {
	l.ctl.Close()
	l.gate.Close()
	if l.pid > 0 {
		_ = signalGroup(l.pid, syscall.SIGKILL)
	}
	_ = l.waiter.Process.Kill()
	_ = l.waiter.Wait()
}

// exitFilePath is where the waiter of task taskID writes its exit: in the
// directory above the task's log directory (the pod's, root's: the log
// directory is the task's own, which a task run as a user may write, so
// it could forge its exit there). It is per task ID, so tasks that share
// a directory do not collide; a restart of the task reuses it after
// DestroyTask removed the last one.
func exitFilePath(taskID, stdoutPath string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(stdoutPath)), ".mk-exit-"+cgroupName(taskID)+".json")
}

// readExitFile reads what the waiter wrote to path; an error wrapping
// os.ErrNotExist when it wrote nothing.
func readExitFile(path string) (*waiter.Exit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read exit file: %w", err)
	}
	var e waiter.Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode exit file %s: %w", path, err)
	}
	return &e, nil
}

// readTaskPID reads the waiter's report: the task's PID, or why it could
// not start it.
func readTaskPID(ctl *os.File) (int, error) {
	_ = ctl.SetReadDeadline(time.Now().Add(waiterStartTimeout))
	line, err := bufio.NewReader(ctl).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("waiter: no report of the task's start: %w", err)
	}
	verb, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	switch verb {
	case "pid":
		pid, err := strconv.Atoi(arg)
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("waiter: bad task pid %q", arg)
		}
		return pid, nil
	case "error":
		return 0, errors.New(arg)
	}
	return 0, fmt.Errorf("waiter: unexpected report %q", line)
}

// watchWaiter waits for the waiter the driver started (its child), then
// collects the task's exit.
func (t *task) watchWaiter(cmd *osexec.Cmd) {
	if err := cmd.Wait(); err != nil {
		t.logger.Warn("task waiter failed", "pid", cmd.Process.Pid, "error", err)
	}
	t.collect()
}

// collect records the exit the waiter wrote. Without one (the waiter was
// killed) the task may still run, orphaned: it is then watched by pidfd,
// and its exit status is unknown.
func (t *task) collect() {
	rec, err := readExitFile(t.state.ExitFile)
	if err == nil {
		t.finish(&drivers.ExitResult{ExitCode: rec.ExitCode, Signal: rec.Signal})
		return
	}
	t.logger.Warn("the task's waiter left no exit status", "error", err)
	p, err := openForeign(t.pid(), t.state.StartTime)
	if err != nil {
		t.finishUnknown()
		return
	}
	t.watchForeign(p)
}

// exitSource is where a recovered task's exit will be learned from.
type exitSource struct {
	// waiter is the task's waiter, still running: wait for it, then read
	// the exit file.
	waiter *foreignProcess
	// orphan is the task itself, running without a waiter (killed, or a
	// handle from before waiters): its exit status is unknowable.
	orphan *foreignProcess
	// With neither, the waiter is gone and left the exit file.
}

// findExit finds where the exit of the task in st will come from. It
// fails when the task is gone without an exit file, or when its PIDs now
// belong to other processes.
func findExit(st *driverState) (exitSource, error) {
	if st.WaiterPID == 0 {
		p, err := openForeign(st.PID, st.StartTime)
		return exitSource{orphan: p}, err
	}
	if w, err := openForeign(st.WaiterPID, st.WaiterStartTime); err == nil {
		if err := checkStartTime(st.PID, st.StartTime); err != nil {
			w.close()
			return exitSource{}, err
		}
		return exitSource{waiter: w}, nil
	}
	// The waiter writes the file before it exits: with the waiter gone,
	// the file is there unless the waiter was killed.
	if _, err := readExitFile(st.ExitFile); err == nil {
		return exitSource{}, nil
	}
	p, err := openForeign(st.PID, st.StartTime)
	return exitSource{orphan: p}, err
}

// exited reports whether the task has exited (its exit file is there).
func (s exitSource) exited() bool { return s.waiter == nil && s.orphan == nil }

// close releases the pidfds of a source that is not watched.
func (s exitSource) close() {
	for _, p := range []*foreignProcess{s.waiter, s.orphan} {
		if p != nil {
			p.close()
		}
	}
}

// watchRecovered waits for a recovered task's exit from s (one that has
// not exited yet).
func (t *task) watchRecovered(s exitSource) {
	switch {
	case s.waiter != nil:
		if s.waiter.wait(t.stopWatch) {
			t.collect()
		}
	case s.orphan != nil:
		t.watchForeign(s.orphan)
	}
}
