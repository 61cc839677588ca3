package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/client/network"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// maxEvents bounds the events kept per task.
const maxEvents = 10

// taskRunner runs one task of a pod through its driver for the task's
// whole life: start (or recover), wait, restart per the group's restart
// policy, stop. Its state is reported through update.
type taskRunner struct {
	pod     *structs.Pod
	task    *structs.Task
	driver  drivers.Driver
	dir     string
	podDir  string
	restart *structs.RestartPolicy
	batch   bool
	logger  hclog.Logger
	// persist stores a new handle; update publishes a new task state.
	persist func(*drivers.TaskHandle) error
	update  func(name string, st *structs.TaskState)
	// driverFailed says a driver call failed (nil: nobody listens).
	driverFailed func()

	state *structs.TaskState
	// net is the pod's network, nil for a pod in the node's.
	net *network.PodNetwork
	// lostOnRecover: the task was running before a client restart and is
	// gone now; it is handled as an exit.
	lostOnRecover bool
	// restartTimes are the starts counted against the policy's interval.
	restartTimes []time.Time
	// follow: the driver reports details of the task, which is inspected
	// while it runs (task_follow.go).
	follow bool
	// accepted: the driver holds the task (started or recovered), even
	// while it reports it pending; a stop must reach it.
	accepted bool
}

func (r *taskRunner) config() (*drivers.TaskConfig, error) {
	mounts, err := taskMounts(r.podDir, r.pod.Template.Volumes, r.task.VolumeMounts)
	if err != nil {
		return nil, err
	}
	cfg := &drivers.TaskConfig{
		ID: drivers.TaskID(r.pod.ID, r.task.Name), PodID: r.pod.ID, Name: r.task.Name, Task: r.withEnv(),
		TaskDir:    r.dir,
		StdoutPath: filepath.Join(r.dir, "stdout.log"),
		StderrPath: filepath.Join(r.dir, "stderr.log"),
		Mounts:     mounts,
		NodeID:     r.pod.NodeID,
		JobID:      r.pod.JobID,
		GPUs:       taskGPUs(r.pod, r.task.Name),
	}
	if r.net != nil {
		cfg.NetNSPath, cfg.ResolvConfPath = r.net.NetNSPath, r.net.ResolvConfPath
	}
	return cfg, nil
}

// withEnv adds mk's variables to the task's environment.
func (r *taskRunner) withEnv() *structs.Task {
	t := structs.Copy(r.task)
	if t.Env == nil {
		t.Env = map[string]string{}
	}
	t.Env["MK_POD_ID"], t.Env["MK_POD_NAME"], t.Env["MK_TASK_NAME"] = r.pod.ID, r.pod.Name, r.task.Name
	t.Env["MK_JOB_NAME"], t.Env["MK_GROUP_NAME"] = r.pod.JobID, r.pod.Group
	t.Env["MK_TASK_DIR"], t.Env["MK_POD_DIR"] = r.dir, r.podDir
	for _, v := range r.pod.Template.Volumes {
		t.Env["MK_VOLUME_"+v.Name] = volumeHostPath(r.podDir, v)
	}
	podIP := ""
	if r.net != nil {
		podIP = r.net.IP.String()
	}
	addPortEnv(t.Env, r.pod, podIP)
	return t
}

func (r *taskRunner) event(typ, msg string, exit *drivers.ExitResult) {
	r.eventWithOutput(typ, msg, exit, "")
}

// eventWithOutput records an event with the last line the task wrote to
// stderr (for exits: often the reason it exited).
func (r *taskRunner) eventWithOutput(typ, msg string, exit *drivers.ExitResult, output string) {
	e := &structs.TaskEvent{Type: typ, Message: msg, Time: time.Now().UnixNano(), Output: output}
	if exit != nil {
		e.ExitCode, e.Signal = exit.ExitCode, exit.Signal
	}
	r.state.Events = append(r.state.Events, e)
	if len(r.state.Events) > maxEvents {
		r.state.Events = r.state.Events[len(r.state.Events)-maxEvents:]
	}
	r.update(r.task.Name, structs.Copy(r.state))
}

// run drives the task until ctx ends (the pod stops) or the task is done
// for good. recovered says the task was reattached, not started.
func (r *taskRunner) run(ctx context.Context, recovered bool) {
	switch {
	case recovered:
		// The recovered run is the task's current start: the restart
		// policy counts its exit like that of a task started here.
		r.restartTimes = append(r.restartTimes, time.Now())
		r.state.State, r.accepted = structs.TaskStateRunning, true
		if st, err := r.driver.InspectTask(drivers.TaskID(r.pod.ID, r.task.Name)); err == nil {
			r.applyStatus(st)
		}
		r.event(structs.TaskEventRecovered, "task reattached after a client restart", nil)
	case r.lostOnRecover:
		r.restartTimes = append(r.restartTimes, time.Now())
	default:
		if !r.start(ctx) {
			return
		}
	}
	for {
		var exit *drivers.ExitResult
		if r.lostOnRecover {
			r.lostOnRecover = false
			exit = &drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("task died while the client was down")}
		} else {
			exit = r.wait(ctx)
		}
		if exit == nil { // ctx done: the pod is stopping
			return
		}
		if r.follow {
			// The driver's last word on the task (gpu-slurm: the job's
			// final state and reason).
			if st, err := r.driver.InspectTask(drivers.TaskID(r.pod.ID, r.task.Name)); err == nil && st.Details != nil {
				r.state.Details = st.Details
			}
		}
		r.state.State, r.state.ExitCode, r.state.Signal = structs.TaskStateDead, exit.ExitCode, exit.Signal
		r.state.FinishedAt = time.Now().UnixNano()
		output := ""
		if !exit.Successful() {
			output = lastLine(filepath.Join(r.dir, "stderr.log"))
		}
		r.eventWithOutput(structs.TaskEventTerminated, exitMessage(exit), exit, output)
		if r.batch && exit.Successful() {
			return
		}
		delay, ok := r.shouldRestart()
		if !ok {
			r.state.Failed = true
			r.event(structs.TaskEventNotRestart, "restart attempts exhausted", exit)
			return
		}
		r.state.State, r.state.NextRestart = structs.TaskStateRestarting, time.Now().Add(delay).UnixNano()
		r.event(structs.TaskEventRestarting, fmt.Sprintf("restarting in %s", delay), nil)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			r.state.State, r.state.NextRestart = structs.TaskStateDead, 0
			return
		}
		r.state.Restarts++
		// The driver still holds the dead task; release it before starting
		// it again under the same ID.
		if err := r.driver.DestroyTask(drivers.TaskID(r.pod.ID, r.task.Name), true); err != nil {
			r.logger.Debug("destroy exited task", "task", r.task.Name, "error", err)
		}
		if !r.start(ctx) {
			return
		}
	}
}

// start starts the task; a start that fails is terminal for the task.
func (r *taskRunner) start(ctx context.Context) bool {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		r.fail(fmt.Sprintf("create task dir: %v", err))
		return false
	}
	cfg, err := r.config()
	if err != nil {
		r.fail(err.Error())
		return false
	}
	handle, err := r.driver.StartTask(cfg)
	if err != nil {
		if r.driverFailed != nil {
			r.driverFailed()
		}
		r.fail(err.Error())
		return false
	}
	if err := r.persist(handle); err != nil {
		r.logger.Error("persist task handle", "task", r.task.Name, "error", err)
	}
	r.restartTimes = append(r.restartTimes, time.Now())
	r.state.State, r.state.StartedAt, r.state.NextRestart = structs.TaskStateRunning, time.Now().UnixNano(), 0
	r.accepted = true
	if st, err := r.driver.InspectTask(handle.TaskID()); err == nil {
		r.state.PID = st.PID
		r.applyStatus(st)
	}
	r.event(structs.TaskEventStarted, "", nil)
	return true
}

func (r *taskRunner) fail(msg string) {
	r.state.State, r.state.Failed, r.state.NextRestart = structs.TaskStateDead, true, 0
	r.event(structs.TaskEventDriverErr, msg, nil)
}

// wait returns the task's exit, or nil when ctx ends first.
func (r *taskRunner) wait(ctx context.Context) *drivers.ExitResult {
	ch, err := r.driver.WaitTask(ctx, drivers.TaskID(r.pod.ID, r.task.Name))
	if err != nil {
		return &drivers.ExitResult{ExitCode: -1, Err: err}
	}
	tick, stop := r.followTicker()
	defer stop()
	for {
		select {
		case res, ok := <-ch:
			if !ok || res == nil {
				if ctx.Err() != nil {
					return nil
				}
				return &drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("wait ended without a result")}
			}
			return res
		case <-tick:
			r.inspect()
		case <-ctx.Done():
			return nil
		}
	}
}

// shouldRestart applies the restart policy: attempts within interval, then
// mode "fail" gives up and mode "delay" waits out the interval.
func (r *taskRunner) shouldRestart() (time.Duration, bool) {
	p := r.restart
	if p == nil {
		p = structs.DefaultRestartPolicy(structs.JobTypeService)
	}
	interval, _ := structs.ParseDuration(p.Interval)
	delay, _ := structs.ParseDuration(p.Delay)
	cutoff := time.Now().Add(-interval)
	recent := 0
	for _, t := range r.restartTimes {
		if t.After(cutoff) {
			recent++
		}
	}
	// The first start is not a restart.
	if recent-1 < p.Attempts {
		return delay, true
	}
	if p.Mode == structs.RestartModeDelay {
		return interval, true
	}
	return 0, false
}

func exitMessage(e *drivers.ExitResult) string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.OOMKilled:
		return "OOM killed: memory limit exceeded"
	case e.Signal != 0:
		return fmt.Sprintf("killed by signal %d", e.Signal)
	}
	return fmt.Sprintf("exit code %d", e.ExitCode)
}

// stop stops the task (its kill_signal, kill_timeout, then SIGKILL) and
// releases it. A driver plugin that is being restarted (and is recovering
// its tasks) answers with errors for a moment, so a running task's stop
// is retried.
func (r *taskRunner) stop() {
	id := drivers.TaskID(r.pod.ID, r.task.Name)
	grace := 5 * time.Second
	if d, err := structs.ParseDuration(r.task.KillTimeout); err == nil && d > 0 {
		grace = d
	}
	if r.state.State == structs.TaskStateRunning || (r.state.State == structs.TaskStatePending && r.accepted) {
		deadline := time.Now().Add(grace + 10*time.Second)
		for {
			err := r.driver.StopTask(id, grace, r.task.KillSignal)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				r.logger.Error("stop task failed", "task", id, "error", err)
				break
			}
			r.logger.Debug("stop task failed; retrying", "task", id, "error", err)
			time.Sleep(200 * time.Millisecond)
		}
		r.state.State = structs.TaskStateDead
		r.state.FinishedAt = time.Now().UnixNano()
		r.event(structs.TaskEventKilled, "stopped by the servers", nil)
	}
	if err := r.driver.DestroyTask(id, true); err != nil {
		r.logger.Debug("destroy task", "task", id, "error", err)
	}
}
