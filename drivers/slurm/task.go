package slurm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// driverState is the driver's part of a TaskHandle: the Slurm job ID,
// which is all recovery needs.
type driverState struct {
	JobID     string
	Partition string `json:",omitempty"`
	GPUs      int    `json:",omitempty"`
	// SubmittedAt is unix nanos.
	SubmittedAt int64
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
	if _, err := strconv.ParseUint(s.JobID, 10, 64); err != nil {
		return nil, fmt.Errorf("decode driver state: bad job ID %q", s.JobID)
	}
	return &s, nil
}

// missLimit is how many polls in a row may not find a job before it is
// taken as gone: Slurm forgot it (MinJobAge passed, no accounting).
const missLimit = 3

// task is a Slurm job the driver follows.
type task struct {
	cfg   *drivers.TaskConfig
	state driverState

	// exited is closed once result is set.
	exited chan struct{}

	mu          sync.Mutex
	info        *jobInfo
	startedAt   int64
	completedAt int64
	result      *drivers.ExitResult
	misses      int
}

func newTask(cfg *drivers.TaskConfig, st driverState) *task {
	return &task{cfg: cfg, state: st, exited: make(chan struct{})}
}

// done reports whether the job has ended.
func (t *task) done() bool {
	select {
	case <-t.exited:
		return true
	default:
		return false
	}
}

// observe records what Slurm said of the job; a final state ends the
// task.
func (t *task) observe(j *jobInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.result != nil {
		return
	}
	t.info, t.misses = j, 0
	now := time.Now().UnixNano()
	switch j.taskState() {
	case drivers.TaskStateRunning:
		if t.startedAt == 0 {
			t.startedAt = now
		}
	case drivers.TaskStateExited:
		t.finishLocked(j.exitResult(), now)
	}
}

// miss records a poll that did not find the job; after missLimit of them
// the task ends as lost.
func (t *task) miss() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.result != nil {
		return
	}
	t.misses++
	if t.misses >= missLimit {
		err := fmt.Errorf("slurm job %s is no longer known to Slurm (squeue, sacct)", t.state.JobID)
		t.finishLocked(&drivers.ExitResult{ExitCode: -1, Err: err}, time.Now().UnixNano())
	}
}

func (t *task) finishLocked(r *drivers.ExitResult, now int64) {
	t.result, t.completedAt = r, now
	close(t.exited)
}

// exitResult is a copy of the result, nil while the job has not ended.
func (t *task) exitResult() *drivers.ExitResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.result == nil {
		return nil
	}
	r := *t.result
	return &r
}

// pending reports whether Slurm last said the job waits in the queue.
func (t *task) pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info != nil && t.info.taskState() == drivers.TaskStatePending
}

// waitExit waits up to d for the job to end.
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

// status is the task's status, with the job's details.
func (t *task) status() *drivers.TaskStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &drivers.TaskStatus{
		ID: t.cfg.ID, Name: t.cfg.Name, State: drivers.TaskStateRunning,
		StartedAt: t.startedAt,
		Details: map[string]string{
			"slurm_job_id": t.state.JobID,
			"partition":    t.state.Partition,
			"gpus":         strconv.Itoa(t.state.GPUs),
		},
	}
	if s.StartedAt == 0 {
		s.StartedAt = t.state.SubmittedAt
	}
	if j := t.info; j != nil {
		s.Details["slurm_state"] = j.State
		if j.Reason != "" && j.Reason != "None" {
			s.Details["reason"] = j.Reason
		}
		if j.Partition != "" {
			s.Details["partition"] = j.Partition
		}
		if j.taskState() == drivers.TaskStatePending {
			s.State = drivers.TaskStatePending
		}
	}
	if t.result != nil {
		s.State, s.CompletedAt = drivers.TaskStateExited, t.completedAt
		r := *t.result
		s.ExitResult = &r
	}
	return s
}
