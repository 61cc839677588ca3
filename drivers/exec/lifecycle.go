package exec

import (
	"fmt"
	"syscall"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// StopTask signals the task's process group, waits up to timeout, then
// SIGKILLs the group.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("stop task %s: %w", taskID, err)
	}
	t, err := d.lookup(taskID)
	if err != nil {
		return fmt.Errorf("stop task: %w", err)
	}
	if !t.running() {
		return nil
	}
	if err := t.signal(sig); err != nil {
		return fmt.Errorf("stop task %s: %w", taskID, err)
	}
	if t.waitExit(timeout) {
		return nil
	}
	d.logger.Debug("task outlived its kill timeout, killing it", "task_id", taskID, "timeout", timeout)
	if err := t.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("stop task %s: %w", taskID, err)
	}
	if !t.waitExit(killWait) {
		return fmt.Errorf("stop task %s: process %d still running %s after SIGKILL", taskID, t.pid(), killWait)
	}
	return nil
}

// DestroyTask frees the task's cgroup and watchers and forgets it; with
// force a running task is killed first.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.lookup(taskID)
	if err != nil {
		return fmt.Errorf("destroy task: %w", err)
	}
	if t.running() {
		if !force {
			return fmt.Errorf("destroy task %s: %w", taskID, drivers.ErrTaskRunning)
		}
		if err := t.signal(syscall.SIGKILL); err != nil {
			return fmt.Errorf("destroy task %s: %w", taskID, err)
		}
		if !t.waitExit(killWait) {
			return fmt.Errorf("destroy task %s: process %d still running after SIGKILL", taskID, t.pid())
		}
	}
	d.mu.Lock()
	delete(d.tasks, taskID)
	d.mu.Unlock()
	if err := t.release(); err != nil {
		return fmt.Errorf("destroy task %s: %w", taskID, err)
	}
	return nil
}

// InspectTask returns the task's status.
func (d *Driver) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, fmt.Errorf("inspect task: %w", err)
	}
	return t.status(), nil
}

// RecoverTask reattaches to a task started by an earlier driver process:
// its waiter must run with the start time the handle recorded, or have
// left the task's exit file (the task ended while no driver ran: it is
// recovered as exited). A task the driver already knows is left alone.
func (d *Driver) RecoverTask(h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil || h.Config.ID == "" {
		return fmt.Errorf("recover task: handle has no task config")
	}
	if h.Driver != d.name {
		return fmt.Errorf("recover task %s: handle is for driver %q, not %q", h.Config.ID, h.Driver, d.name)
	}
	if _, err := d.lookup(h.Config.ID); err == nil {
		return nil
	}
	st, err := decodeDriverState(h.DriverState)
	if err != nil {
		return fmt.Errorf("recover task %s: %w", h.Config.ID, err)
	}
	src, err := findExit(st)
	if err != nil {
		return fmt.Errorf("recover task %s: %w", h.Config.ID, err)
	}
	cg, err := loadCgroup(st.Cgroup)
	if err != nil && !src.exited() {
		src.close()
		return fmt.Errorf("recover task %s: %w", h.Config.ID, err)
	}
	// An exited task's cgroup may be gone with a reboot; its exit is still
	// worth reporting.
	t := newTask(h.Config, *st, cg, d.logger.With("task_id", h.Config.ID))
	if h.Config.Task != nil {
		t.env, t.dir = taskEnv(h.Config), workDir(h.Config)
		if t.cred, err = credential(h.Config.Task.User); err == nil {
			t.mounts, err = newMountTable(h.Config.Mounts)
			if st.Isolated || d.raw {
				t.mounts, err = d.taskMounts(h.Config)
			}
		}
		if err != nil {
			src.close()
			return fmt.Errorf("recover task %s: %w", h.Config.ID, err)
		}
	}
	t.rotator = startRotator(d.logCfg, t.logger, h.Config.StdoutPath, h.Config.StderrPath)
	if err := d.add(t); err != nil {
		t.rotator.Stop()
		src.close()
		return fmt.Errorf("recover task %s: %w", h.Config.ID, err)
	}
	if src.exited() {
		t.collect() // now: the caller sees the task exited on return
	} else {
		go t.watchRecovered(src)
	}
	d.logger.Info("task recovered", "task_id", h.Config.ID, "pid", st.PID, "waiter_pid", st.WaiterPID)
	return nil
}
