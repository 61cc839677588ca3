package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/drivers"
)

// StopTask sends signal (SIGTERM when empty) to the container's main
// process, waits up to timeout for it to exit, then kills it. It returns
// once the container is seen dead.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	t, err := d.lookup(taskID)
	if err != nil {
		return err
	}
	if res, _ := t.exitResult(); res != nil {
		return nil
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("stop task %s: %w", taskID, err)
	}
	if err := d.kill(t, sig); err != nil {
		return fmt.Errorf("stop task %s: %w", taskID, err)
	}
	if sig != unix.SIGKILL {
		select {
		case <-t.done:
			return nil
		case <-time.After(timeout):
		}
		if err := d.kill(t, unix.SIGKILL); err != nil {
			return fmt.Errorf("stop task %s: %w", taskID, err)
		}
	}
	select {
	case <-t.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("stop task %s: container %s still runs %s after SIGKILL", taskID, t.containerID[:12], killWait)
	}
}

// kill signals the container; one that is no longer running is not an
// error.
func (d *Driver) kill(t *task, sig unix.Signal) error {
	t.mu.Lock()
	t.signalled = int(sig)
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	err := d.docker.ContainerKill(ctx, t.containerID, fmt.Sprint(int(sig)))
	if err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("signal %s to container %s: %w", unix.SignalName(sig), t.containerID[:12], err)
	}
	return nil
}

// parseSignal reads "SIGTERM", "TERM" or "15" ("" is SIGTERM).
func parseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return unix.SIGTERM, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	var n int
	if _, err := fmt.Sscan(s, &n); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// DestroyTask removes the task's container (and its anonymous volumes)
// and stops following it. A running task is an error unless force is
// set; then it is killed first.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.lookup(taskID)
	if err != nil {
		return err
	}
	if res, _ := t.exitResult(); res == nil {
		if !force {
			return fmt.Errorf("destroy task %s: %w", taskID, drivers.ErrTaskRunning)
		}
		if err := d.StopTask(taskID, 0, "SIGKILL"); err != nil {
			return fmt.Errorf("destroy task %s: %w", taskID, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	err = d.docker.ContainerRemove(ctx, t.containerID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("destroy task %s: remove container: %w", taskID, err)
	}
	t.cancel()
	<-t.done
	t.logs.stop()
	if err := os.Remove(positionPath(t.cfg)); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.logger.Warn("remove log position", "task_id", taskID, "error", err)
	}
	d.mu.Lock()
	if d.tasks[taskID] == t {
		delete(d.tasks, taskID)
	}
	d.mu.Unlock()
	return nil
}
