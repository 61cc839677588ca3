package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
)

// errExitUnknown is the ExitResult error of a task whose waiter was
// killed (or that was started before waiters): only a process's parent
// can read its exit status, and its parent is gone.
var errExitUnknown = errors.New("exit status unknown: the task's waiter is gone")

// driverState is the exec driver's part of a TaskHandle.
type driverState struct {
	PID int
	// StartTime is the process's start time in clock ticks since boot,
	// to tell it from a later process that reuses the PID.
	StartTime uint64
	// StartedAt is unix nanos.
	StartedAt int64
	Cgroup    cgroupState
	// WaiterPID and WaiterStartTime name the task's waiter (its parent);
	// zero in handles from before waiters.
	WaiterPID       int    `json:",omitempty"`
	WaiterStartTime uint64 `json:",omitempty"`
	// ExitFile is where the waiter writes the task's exit.
	ExitFile string `json:",omitempty"`
	// Isolated: PID is the task's init, in namespaces of the task's own
	// that ExecTask joins.
	Isolated bool `json:",omitempty"`
}

func (s *driverState) encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode driver state: %w", err)
	}
	return b, nil
}

func decodeDriverState(b []byte) (*driverState, error) {
	var s driverState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode driver state: %w", err)
	}
	if s.PID <= 0 {
		return nil, fmt.Errorf("decode driver state: bad pid %d", s.PID)
	}
	return &s, nil
}

// task is a task the driver started or recovered.
type task struct {
	cfg   *drivers.TaskConfig
	state driverState
	env   []string
	dir   string
	cred  *syscall.Credential
	// mounts are the task's volume mounts, made in its own mount
	// namespace; none for a task in the host's.
	mounts  mountTable
	cgroup  taskCgroup
	rotator *rotator
	logger  hclog.Logger

	// exited is closed once result is set.
	exited chan struct{}
	// stopWatch stops the watcher of a recovered task.
	stopWatch chan struct{}

	mu          sync.Mutex
	result      *drivers.ExitResult
	completedAt int64
	// lastSignal is the last signal the driver sent the task.
	lastSignal syscall.Signal
}

func newTask(cfg *drivers.TaskConfig, st driverState, cg taskCgroup, logger hclog.Logger) *task {
	return &task{
		cfg:       cfg,
		state:     st,
		cgroup:    cg,
		logger:    logger,
		exited:    make(chan struct{}),
		stopWatch: make(chan struct{}),
	}
}

// pid is the task's process ID, which is also its process group ID.
func (t *task) pid() int { return t.state.PID }

// running reports whether the task has not exited.
func (t *task) running() bool {
	select {
	case <-t.exited:
		return false
	default:
		return true
	}
}

// exitResult returns a copy of the exit result, nil while running.
func (t *task) exitResult() *drivers.ExitResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.result == nil {
		return nil
	}
	r := *t.result
	return &r
}

// signal sends sig to the task's process group and remembers it.
func (t *task) signal(sig syscall.Signal) error {
	t.mu.Lock()
	t.lastSignal = sig
	t.mu.Unlock()
	return signalGroup(t.pid(), sig)
}

// watchForeign waits for a task that has no waiter to exit.
func (t *task) watchForeign(p *foreignProcess) {
	if !p.wait(t.stopWatch) {
		return
	}
	// An isolated task's init writes the exit file itself before it
	// exits, so its status survives the waiter.
	if t.state.Isolated && t.state.ExitFile != "" {
		if rec, err := readExitFile(t.state.ExitFile); err == nil {
			t.finish(&drivers.ExitResult{ExitCode: rec.ExitCode, Signal: rec.Signal})
			return
		}
	}
	t.finishUnknown()
}

// finishUnknown records the exit of a task whose exit status is
// unknowable; Signal is the last signal the driver sent it, if any.
func (t *task) finishUnknown() {
	t.mu.Lock()
	sig := t.lastSignal
	t.mu.Unlock()
	t.finish(&drivers.ExitResult{Signal: int(sig), Err: errExitUnknown})
}

// finish records the exit, checks the cgroup for an OOM kill and kills
// what the task left behind in its process group.
func (t *task) finish(res *drivers.ExitResult) {
	if t.cgroup != nil {
		if st, err := t.cgroup.Stats(); err == nil && st.OOMKills > 0 {
			res.OOMKilled = true
		}
	}
	t.killGroup()
	t.mu.Lock()
	t.result = res
	t.completedAt = time.Now().UnixNano()
	t.mu.Unlock()
	close(t.exited)
	t.logger.Debug("task exited", "pid", t.pid(), "exit_code", res.ExitCode,
		"signal", res.Signal, "oom_killed", res.OOMKilled, "error", res.Err)
}

// killGroup kills what is left of the task's process group. The group ID
// is the task's PID, which the kernel may give to a new process once the
// group is empty (a recovered task may have exited long ago), so the group
// is signalled only while a process of the task's cgroup is still in it.
func (t *task) killGroup() {
	if t.cgroup == nil {
		return // recovered after a reboot: nothing of it is left
	}
	pids, err := t.cgroup.Pids()
	if err != nil {
		return // what is left is killed with the cgroup (release)
	}
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == t.pid() {
			_ = signalGroup(t.pid(), syscall.SIGKILL)
			return
		}
	}
}

// waitExit waits up to d for the task to exit.
func (t *task) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.exited:
		return true
	case <-timer.C:
		return false
	}
}

// release frees what the driver holds for an exited task: the rotator,
// the exit file, stray processes in its cgroup, and the cgroup.
func (t *task) release() error {
	select {
	case <-t.stopWatch:
	default:
		close(t.stopWatch)
	}
	if t.rotator != nil {
		t.rotator.Stop()
	}
	if t.state.ExitFile != "" {
		if err := os.Remove(t.state.ExitFile); err != nil && !os.IsNotExist(err) {
			t.logger.Warn("remove exit file", "error", err)
		}
	}
	if t.cgroup == nil {
		return nil
	}
	// Processes that left the group (setsid) are still in the cgroup.
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if pids, perr := t.cgroup.Pids(); perr == nil {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if err = t.cgroup.Delete(); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // the kernel frees a cgroup after its last process is reaped
	}
}

// status returns the task's status.
func (t *task) status() *drivers.TaskStatus {
	s := &drivers.TaskStatus{
		ID:        t.cfg.ID,
		Name:      t.cfg.Name,
		State:     drivers.TaskStateRunning,
		PID:       t.pid(),
		StartedAt: t.state.StartedAt,
	}
	if res := t.exitResult(); res != nil {
		t.mu.Lock()
		s.CompletedAt = t.completedAt
		t.mu.Unlock()
		s.State = drivers.TaskStateExited
		s.ExitResult = res
	}
	return s
}
