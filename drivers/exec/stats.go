package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// TaskStats samples the task's cgroup every interval.
func (d *Driver) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, fmt.Errorf("task stats: %w", err)
	}
	if t.cgroup == nil {
		return nil, fmt.Errorf("task stats %s: the task has no cgroup", taskID)
	}
	if interval <= 0 {
		interval = time.Second
	}
	prev, err := t.cgroup.Stats()
	if err != nil {
		return nil, fmt.Errorf("task stats %s: %w", taskID, err)
	}
	ch := make(chan *drivers.TaskResourceUsage)
	go d.sampleStats(ctx, t, interval, prev, ch)
	return ch, nil
}

// sampleStats sends a sample every interval until ctx is done or the task
// exits.
func (d *Driver) sampleStats(ctx context.Context, t *task, interval time.Duration, prev *cgroupStats, ch chan<- *drivers.TaskResourceUsage) {
	defer close(ch)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.exited:
			return
		case now := <-ticker.C:
			cur, err := t.cgroup.Stats()
			if err != nil {
				t.logger.Debug("reading task stats failed", "error", err)
				continue
			}
			u := &drivers.TaskResourceUsage{
				Timestamp:     now.UnixNano(),
				CPUTotalNanos: cur.CPUNanos,
				MemoryRSS:     cur.MemoryRSS,
				MemoryUsage:   cur.MemoryUsage,
			}
			if wall := now.Sub(prevAt); wall > 0 && cur.CPUNanos >= prev.CPUNanos {
				u.CPUPercent = float64(cur.CPUNanos-prev.CPUNanos) / float64(wall.Nanoseconds()) * 100
			}
			prev, prevAt = cur, now
			select {
			case ch <- u:
			case <-ctx.Done():
				return
			}
		}
	}
}

// ExecTask runs cmd in the task's environment, working directory and
// cgroup, in a process group of its own that is killed on timeout. A
// command that is not found exits 127, as in a shell.
func (d *Driver) ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, fmt.Errorf("exec in task: %w", err)
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("exec in task %s: no command", taskID)
	}
	if !t.running() {
		return nil, fmt.Errorf("exec in task %s: the task is not running", taskID)
	}
	if t.env == nil {
		return nil, fmt.Errorf("exec in task %s: the task's handle has no task config", taskID)
	}
	bin, err := lookPath(cmd[0], t.env, t.dir, t.mounts)
	if err != nil {
		// As a shell answers: the command's own failure, exit code 127.
		return &drivers.ExecResult{Stderr: []byte(err.Error() + "\n"), ExitCode: 127}, nil
	}
	var stdout, stderr bytes.Buffer
	var g *gatedCommand
	start := func() (err error) {
		g, err = startGated(append([]string{bin}, cmd[1:]...), t.env, t.dir, t.cred, &stdout, &stderr)
		return err
	}
	switch {
	case t.state.Isolated:
		err = t.inNamespaces(isolatedNamespaces, start)
	case len(t.mounts) > 0:
		err = t.inNamespaces(mountNamespace, start)
	default:
		err = start()
	}
	if err != nil {
		return nil, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	if t.cgroup != nil {
		err = t.cgroup.Add(g.cmd.Process.Pid)
	}
	if err == nil {
		err = g.release()
	}
	if err != nil {
		g.abort()
		return nil, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	code, err := waitExec(ctx, g, timeout)
	if err != nil {
		return nil, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	return &drivers.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// waitExec waits for an exec'd command, killing its group after timeout or
// when ctx ends (the caller went away).
func waitExec(ctx context.Context, g *gatedCommand, timeout time.Duration) (int, error) {
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	var err error
	select {
	case err = <-done:
	case <-timer:
		_ = signalGroup(g.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return 0, fmt.Errorf("command timed out after %s: %w", timeout, context.DeadlineExceeded)
	case <-ctx.Done():
		_ = signalGroup(g.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return 0, fmt.Errorf("command killed: %w", ctx.Err())
	}
	ps := g.cmd.ProcessState
	if ps == nil {
		return 0, fmt.Errorf("wait for command: %w", err)
	}
	var exitErr interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exitErr) {
		return 0, fmt.Errorf("wait for command: %w", err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}
