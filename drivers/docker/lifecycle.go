package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/mk-orchestrator/mk/drivers"
)

// Timings of the life cycle.
const (
	// apiTimeout bounds one Engine call that should answer at once.
	apiTimeout = 30 * time.Second
	// killWait bounds how long a SIGKILLed container takes to be seen
	// dead.
	killWait = 15 * time.Second
	// waitRetry is the most the watcher waits between tries while the
	// Engine does not answer.
	waitRetry = 2 * time.Second
)

// StartTask makes sure the image is there (config.pull), creates the
// container (joined to the pod's pause container when the pod has its
// own network) and starts it, following its logs into the task's files.
func (d *Driver) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if _, err := d.lookup(cfg.ID); err == nil {
		return nil, fmt.Errorf("start task %s: already started", cfg.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.PullTimeout+apiTimeout)
	defer cancel()
	pauseID := ""
	if cfg.NetNSPath != "" {
		p, err := d.podPause(ctx, cfg.PodID)
		if err != nil {
			return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
		}
		pauseID = p
	}
	spec, err := d.buildSpec(cfg, pauseID)
	if err != nil {
		return nil, err
	}
	if pauseID != "" {
		if err := writeHosts(cfg); err != nil {
			return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
		}
	}
	if err := d.readyImage(ctx, cfg.PodID, spec.Config.Image, cfg.Task.Config.Pull); err != nil {
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	id, err := d.create(ctx, spec, cfg.PodID, cfg.Name, roleTask)
	if err != nil {
		if pauseID != "" {
			d.forgetPause(cfg.PodID) // it may be gone: look it up next time
		}
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	if err := d.docker.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		d.removeContainer(id)
		return nil, fmt.Errorf("start task %s: start container: %w", cfg.ID, err)
	}
	info, err := d.docker.ContainerInspect(ctx, id)
	if err != nil {
		d.removeContainer(id)
		return nil, fmt.Errorf("start task %s: inspect container: %w", cfg.ID, err)
	}
	state, err := encodeState(taskState{ContainerID: id, PauseID: pauseID})
	if err != nil {
		d.removeContainer(id)
		return nil, err
	}
	d.track(cfg, id, info, false)
	d.logger.Debug("task started", "task_id", cfg.ID, "container", id[:12], "name", spec.Name)
	return &drivers.TaskHandle{Driver: Name, Config: cfg, DriverState: state}, nil
}

// create creates the container under its short name, or the long one
// when another pod holds the short one. A container of the same pod,
// task and role under the name (left by a crash before its handle was
// persisted) is removed first.
func (d *Driver) create(ctx context.Context, spec *containerSpec, podID, name, role string) (string, error) {
	names := []string{spec.Name, longContainerName(podID, name)}
	for i := 0; i < len(names); i++ {
		resp, err := d.docker.ContainerCreate(ctx, spec.Config, spec.Host, nil, nil, names[i])
		if err == nil {
			return resp.ID, nil
		}
		if !cerrdefs.IsConflict(err) {
			return "", fmt.Errorf("create container %s: %w", names[i], err)
		}
		old, ierr := d.docker.ContainerInspect(ctx, names[i])
		if ierr != nil || old.Config == nil {
			continue
		}
		l := old.Config.Labels
		if l[LabelPod] == podID && l[LabelRole] == role && (role == rolePause || l[LabelTask] == name) {
			d.logger.Warn("removing a container left from before", "name", names[i], "container", old.ID[:12])
			if rerr := d.docker.ContainerRemove(ctx, old.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); rerr != nil {
				return "", fmt.Errorf("remove old container %s: %w", names[i], rerr)
			}
			i-- // the same name again
		}
	}
	return "", fmt.Errorf("create container: the names %v are taken", names)
}

// track starts following a container the driver started or recovered.
func (d *Driver) track(cfg *drivers.TaskConfig, id string, info container.InspectResponse, recovered bool) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &task{id: cfg.ID, cfg: cfg, containerID: id, cancel: cancel, done: make(chan struct{})}
	if info.State != nil {
		t.pid = info.State.Pid
		t.startedAt, _ = time.Parse(time.RFC3339Nano, info.State.StartedAt)
	}
	t.logs = d.followLogs(ctx, cfg, id, recovered)
	d.mu.Lock()
	d.tasks[cfg.ID] = t
	d.mu.Unlock()
	go d.watch(ctx, t)
}

// removeContainer removes a container that failed to start.
func (d *Driver) removeContainer(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	err := d.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		d.logger.Warn("remove container", "container", id, "error", err)
	}
}

// RecoverTask reattaches to the handle's container: it follows its logs
// from where they stopped and waits for it again. A container that
// exited meanwhile is recovered as exited, with its exit; one that is
// gone fails.
func (d *Driver) RecoverTask(h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil {
		return errors.New("recover task: no handle")
	}
	st, err := decodeState(h.DriverState)
	if err != nil {
		return fmt.Errorf("recover task %s: %w", h.TaskID(), err)
	}
	if t, err := d.lookup(h.TaskID()); err == nil && t.containerID == st.ContainerID {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	info, err := d.docker.ContainerInspect(ctx, st.ContainerID)
	if err != nil {
		return fmt.Errorf("recover task %s: container %s: %w", h.TaskID(), st.ContainerID, err)
	}
	d.track(h.Config, st.ContainerID, info, true)
	d.logger.Debug("task recovered", "task_id", h.TaskID(), "container", st.ContainerID[:12])
	return nil
}

// watch waits for the container to stop and records its exit. While the
// Engine does not answer it tries again; a container that is gone (docker
// rm -f) ends the task with an error.
func (d *Driver) watch(ctx context.Context, t *task) {
	defer close(t.done)
	backoff := 100 * time.Millisecond
	for {
		waitC, errC := d.docker.ContainerWait(ctx, t.containerID, container.WaitConditionNotRunning)
		select {
		case <-waitC:
			res, at := d.exitOf(ctx, t)
			t.logs.drain()
			t.setExit(res, at)
			return
		case err := <-errC:
			if ctx.Err() != nil {
				return
			}
			if cerrdefs.IsNotFound(err) {
				t.logs.drain()
				t.setExit(&drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("container %s was removed", t.containerID[:12])}, time.Now())
				return
			}
			d.logger.Warn("waiting for container failed; retrying", "task_id", t.id, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, waitRetry)
	}
}

// exitOf reads how the container ended.
func (d *Driver) exitOf(ctx context.Context, t *task) (*drivers.ExitResult, time.Time) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	info, err := d.docker.ContainerInspect(ctx, t.containerID)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			err = fmt.Errorf("container %s was removed", t.containerID[:12])
		}
		return &drivers.ExitResult{ExitCode: -1, Err: err}, time.Now()
	}
	res := &drivers.ExitResult{ExitCode: info.State.ExitCode, OOMKilled: info.State.OOMKilled}
	if info.State.Status == "removing" {
		// docker rm -f marks the removal before it kills the container.
		res.Err = fmt.Errorf("container %s was removed", t.containerID[:12])
	}
	t.mu.Lock()
	if sig := t.signalled; sig != 0 && res.ExitCode > 128 {
		res.Signal = res.ExitCode - 128
	}
	t.mu.Unlock()
	at, perr := time.Parse(time.RFC3339Nano, info.State.FinishedAt)
	if perr != nil || at.IsZero() {
		at = time.Now()
	}
	return res, at
}

// WaitTask delivers the task's exit once the container stopped.
func (d *Driver) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, err
	}
	out := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(out)
		select {
		case <-t.done:
		case <-ctx.Done():
			return
		}
		res, _ := t.exitResult()
		if res == nil {
			res = &drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("task %s: no longer followed", taskID)}
		}
		out <- res
	}()
	return out, nil
}

// InspectTask reports the task's state from what the watcher saw.
func (d *Driver) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, err
	}
	st := &drivers.TaskStatus{ID: t.id, Name: t.cfg.Name, State: drivers.TaskStateRunning, PID: t.pid,
		StartedAt: t.startedAt.UnixNano()}
	if res, at := t.exitResult(); res != nil {
		st.State, st.ExitResult, st.CompletedAt = drivers.TaskStateExited, res, at.UnixNano()
	}
	return st, nil
}
