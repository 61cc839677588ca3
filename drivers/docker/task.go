package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// taskState is the handle's DriverState: what RecoverTask needs.
type taskState struct {
	ContainerID string
	// PauseID is the pod's pause container ("" in the host's network).
	PauseID string `json:",omitempty"`
}

// task is a container the driver runs or recovered.
type task struct {
	id          string
	cfg         *drivers.TaskConfig
	containerID string
	pid         int
	startedAt   time.Time

	// cancel ends the task's watcher and log follower; done is closed
	// once the watcher has recorded the exit (or was cancelled).
	cancel context.CancelFunc
	done   chan struct{}
	logs   *logFollower

	mu sync.Mutex
	// exit is set once the container exited; completedAt with it.
	exit        *drivers.ExitResult
	completedAt time.Time
	// signalled is the last signal StopTask sent (0: none).
	signalled int
}

func (t *task) exitResult() (*drivers.ExitResult, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exit, t.completedAt
}

func (t *task) setExit(r *drivers.ExitResult, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exit == nil {
		t.exit, t.completedAt = r, at
	}
}

func encodeState(s taskState) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode driver state: %w", err)
	}
	return b, nil
}

func decodeState(b []byte) (taskState, error) {
	var s taskState
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode driver state: %w", err)
	}
	if s.ContainerID == "" {
		return s, fmt.Errorf("decode driver state: no container ID")
	}
	return s, nil
}
