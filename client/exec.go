package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// ExecTask runs cmd in the environment of a running task of one of this
// client's pods (its variables, working directory and cgroup) and returns
// the command's output and exit code. task may be empty when the pod has
// one task. The driver kills the command after timeout, or as soon as ctx
// ends (an HTTP caller that went away).
//
// Errors: an unknown pod or task matches structs.ErrNotFound, a task that
// is not running structs.ErrConflict, a command that outlives its timeout
// structs.ErrTimeout.
func (c *Client) ExecTask(ctx context.Context, podID, task string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	if len(cmd) == 0 {
		return nil, structs.NewBadRequest("exec: the command is empty")
	}
	ref, err := c.runningTask(podID, task)
	if err != nil {
		return nil, err
	}
	type outcome struct {
		res *drivers.ExecResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := ref.driver.ExecTask(ctx, ref.id, cmd, timeout)
		done <- outcome{res, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		// The caller went away (or its own deadline passed): that, not
		// the command's timeout, is why the command ended.
		return nil, fmt.Errorf("exec in %s: %w", ref, ctx.Err())
	}
	switch {
	case out.err == nil:
		return out.res, nil
	case errors.Is(out.err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: exec in %s: the command did not finish within %s and was killed", structs.ErrTimeout, ref, timeout)
	}
	return nil, ref.execError(out.err)
}

// ExecTaskStreaming runs opts.Command in the environment of a running
// task of one of this client's pods, as ExecTask does, with its input and
// output streamed while it runs (on a new pseudo-terminal with opts.TTY),
// and returns its exit code. It has no timeout: the driver kills the
// command when ctx ends (the caller went away), and the error then
// matches ctx.Err().
//
// Errors: those of ExecTask, and structs.ErrBadRequest for a task whose
// driver cannot stream an exec.
func (c *Client) ExecTaskStreaming(ctx context.Context, podID, task string, opts *drivers.ExecStreamOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, structs.NewBadRequest("exec: the command is empty")
	}
	ref, se, err := c.streamingTask(podID, task)
	if err != nil {
		return 0, err
	}
	code, err := se.ExecTaskStreaming(ctx, ref.id, opts)
	switch {
	case err == nil:
		return code, nil
	case ctx.Err() != nil:
		return 0, fmt.Errorf("exec in %s: %w", ref, ctx.Err())
	}
	return 0, ref.execError(err)
}

// CheckExecStreaming reports why ExecTaskStreaming in a task would fail
// before running anything (its errors), or nil when it can start now.
// The HTTP API asks before it upgrades the connection to a WebSocket.
func (c *Client) CheckExecStreaming(podID, task string) error {
	_, _, err := c.streamingTask(podID, task)
	return err
}

// streamingTask finds a running task whose driver can stream an exec.
func (c *Client) streamingTask(podID, task string) (*taskRef, drivers.StreamingExecer, error) {
	ref, err := c.runningTask(podID, task)
	if err != nil {
		return nil, nil, err
	}
	se, ok := ref.driver.(drivers.StreamingExecer)
	if !ok {
		return nil, nil, structs.NewBadRequest("%s: driver %q cannot stream an exec: run the command without input or a terminal", ref, ref.driverName)
	}
	return ref, se, nil
}

// taskRef is a running task of one of this client's pods.
type taskRef struct {
	runner *podRunner
	name   string
	// id is the task's ID in its driver.
	id         string
	driver     drivers.Driver
	driverName string
}

func (t *taskRef) String() string { return fmt.Sprintf("task %q of pod %s", t.name, t.runner.pod.Name) }

// execError wraps the error of an exec in the task: a conflict when the
// task stopped meanwhile.
func (t *taskRef) execError(err error) error {
	if errors.Is(err, drivers.ErrTaskNotFound) || !t.runner.taskRunning(t.name) {
		return structs.NewConflict("%s stopped: %v", t, err)
	}
	return fmt.Errorf("exec in %s: %w", t, err)
}

// runningTask finds a task of a pod this client runs; it must be running.
func (c *Client) runningTask(podID, task string) (*taskRef, error) {
	r, err := c.runner(podID)
	if err != nil {
		return nil, err
	}
	name, err := podTaskName(r.pod, task)
	if err != nil {
		return nil, err
	}
	tr, state := r.task(name)
	if tr == nil || tr.driver == nil || state != structs.TaskStateRunning {
		return nil, structs.NewConflict("task %q of pod %s is %s, not running", name, r.pod.Name, firstNonEmpty(state, structs.TaskStatePending))
	}
	return &taskRef{runner: r, name: name, id: drivers.TaskID(r.pod.ID, name), driver: tr.driver, driverName: tr.task.Driver}, nil
}

// runner returns the runner of a pod this client runs. A pod it ran
// before but runs no more is a conflict, one it never ran not found.
func (c *Client) runner(podID string) (*podRunner, error) {
	c.mu.Lock()
	r, ok := c.runners[podID]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	pod, err := c.localPod(podID)
	if err != nil {
		return nil, err
	}
	return nil, structs.NewConflict("pod %s is not running on this node", pod.Name)
}

// podTaskName resolves the task a request names: any task of the pod, or
// "" for the pod's only task.
func podTaskName(pod *structs.Pod, task string) (string, error) {
	tasks := pod.Template.Tasks
	if task == "" {
		if len(tasks) != 1 {
			return "", structs.NewBadRequest("pod %s has %d tasks (%s): name one with -task", pod.Name, len(tasks), taskNames(pod))
		}
		return tasks[0].Name, nil
	}
	for _, t := range tasks {
		if t.Name == task {
			return task, nil
		}
	}
	return "", fmt.Errorf("pod %s has no task %q (its tasks: %s): %w", pod.Name, task, taskNames(pod), structs.ErrNotFound)
}

func taskNames(pod *structs.Pod) string {
	names := make([]string, len(pod.Template.Tasks))
	for i, t := range pod.Template.Tasks {
		names[i] = t.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// task returns a task's runner and its last published state ("" before
// the runner made it, "stopping" for a running task of a pod that stops).
func (r *podRunner) task(name string) (*taskRunner, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := ""
	if st := r.states[name]; st != nil {
		state = st.State
	}
	if r.stopped && state == structs.TaskStateRunning {
		state = "stopping"
	}
	return r.tasks[name], state
}

// taskRunning reports whether a task's last published state is running.
func (r *podRunner) taskRunning(name string) bool {
	_, state := r.task(name)
	return state == structs.TaskStateRunning
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
