// Package slurm is the gpu-slurm driver (DESIGN §10): a task is a Slurm
// batch job. StartTask stages the task's files and script into its
// directory and submits the script with `sbatch --parsable` (GPUs as
// --gres=gpu:N, partition, time limit and the other options of the
// task's config); the job ID is the task's handle. One poller follows
// every job with one squeue call per tick (sacct for jobs the
// controller forgot), and maps Slurm's states to task states: PENDING
// is pending (with Slurm's reason), RUNNING running, COMPLETED exit 0,
// FAILED the script's exit code, and every other end (TIMEOUT,
// OUT_OF_MEMORY, CANCELLED, NODE_FAIL, ...) a failure naming the state
// and reason. The job writes its output and error straight into the
// task's log files (--output, --error, --open-mode=append), so logs
// stream while it runs; this needs the task directory on a file system
// the Slurm nodes share, as Slurm jobs always do. Stop is scancel with
// the kill signal, then a hard scancel after the timeout. Recovery
// reattaches by job ID: a job that ended while no driver ran reports
// its real state and exit code.
package slurm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
)

// cancelWait bounds how long a hard-cancelled job may take to end.
const cancelWait = 2 * time.Minute

// Driver is the gpu-slurm driver. It is safe for concurrent use (see
// drivers.Driver).
type Driver struct {
	logger hclog.Logger
	cfg    Config
	cli    cli

	mu    sync.RWMutex
	tasks map[string]*task

	kick chan struct{}
	stop chan struct{}
}

var _ drivers.Driver = (*Driver)(nil)

// New returns a gpu-slurm driver and starts its poller.
func New(logger hclog.Logger, cfg Config) *Driver {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	d := &Driver{
		logger: logger.Named(Name), cfg: cfg, cli: cli{cfg: cfg},
		tasks: map[string]*task{}, kick: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	go d.poll()
	return d
}

// Close stops the poller.
func (d *Driver) Close() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
}

// Fingerprint reports the driver healthy when sinfo answers, with the
// partitions, their GPUs and Slurm's version as attributes.
func (d *Driver) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	return d.fingerprint(ctx), nil
}

func (d *Driver) lookup(id string) (*task, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", drivers.ErrTaskNotFound, id)
	}
	return t, nil
}

// StartTask submits the task as a batch job.
func (d *Driver) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("start task: %w", err)
	}
	if _, err := d.lookup(cfg.ID); err == nil {
		return nil, fmt.Errorf("start task: task %q already exists", cfg.ID)
	}
	partition := firstNonEmpty(cfg.Task.Config.Partition, d.cfg.Partition)
	id, err := d.submit(context.Background(), cfg, partition)
	if err != nil {
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	st := driverState{JobID: id, Partition: partition, GPUs: cfg.Task.GPUs(), SubmittedAt: time.Now().UnixNano()}
	state, err := st.encode()
	if err != nil {
		d.cancel(id, "")
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	d.add(newTask(cfg, st))
	d.logger.Info("job submitted", "task_id", cfg.ID, "slurm_job_id", id, "partition", partition, "gpus", st.GPUs)
	d.kickPoll()
	return &drivers.TaskHandle{Driver: Name, Config: cfg, DriverState: state}, nil
}

func (d *Driver) add(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tasks[t.cfg.ID] = t
}

// WaitTask returns a channel that receives the job's exit result.
func (d *Driver) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, err
	}
	ch := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(ch)
		select {
		case <-t.exited:
			ch <- t.exitResult()
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// StopTask signals the job (scancel --signal, to the batch script and
// its steps; a job still pending is cancelled at once), waits up to
// timeout for it to end, then cancels it hard and waits for Slurm to
// report it ended.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	t, err := d.lookup(taskID)
	if err != nil {
		return err
	}
	if t.done() {
		return nil
	}
	if t.pending() {
		if err := d.cancel(t.state.JobID, ""); err != nil {
			return err
		}
	} else if err := d.cancel(t.state.JobID, slurmSignal(signal)); err != nil {
		return err
	}
	d.kickPoll()
	if t.waitExit(timeout) {
		return nil
	}
	if err := d.cancel(t.state.JobID, ""); err != nil {
		return err
	}
	d.kickPoll()
	if !t.waitExit(cancelWait) {
		return fmt.Errorf("stop task %s: slurm job %s has not ended %s after scancel", taskID, t.state.JobID, cancelWait)
	}
	return nil
}

// slurmSignal is a kill_signal as scancel takes it: "TERM" for "SIGTERM"
// or "" (the default), a number as it is.
func slurmSignal(s string) string {
	if s == "" {
		return "TERM"
	}
	return strings.TrimPrefix(strings.ToUpper(s), "SIG")
}

// cancel runs scancel on the job: with a signal, to the batch script and
// every step (--full); without one, a hard cancel.
func (d *Driver) cancel(jobID, signal string) error {
	args := []string{jobID}
	if signal != "" {
		args = []string{"--full", "--signal=" + signal, jobID}
	}
	if _, err := d.cli.run(context.Background(), "scancel", args...); err != nil {
		return fmt.Errorf("cancel slurm job %s: %w", jobID, err)
	}
	return nil
}

// DestroyTask forgets the job; a job still queued or running is an
// error unless force is set, which cancels it first.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.lookup(taskID)
	if err != nil {
		return err
	}
	if !t.done() {
		if !force {
			return fmt.Errorf("%w: slurm job %s", drivers.ErrTaskRunning, t.state.JobID)
		}
		if err := d.cancel(t.state.JobID, ""); err != nil {
			d.logger.Warn("cancel job of a destroyed task", "task_id", taskID, "error", err)
		}
	}
	d.mu.Lock()
	delete(d.tasks, taskID)
	d.mu.Unlock()
	return nil
}

// InspectTask returns the task's status with the job's details.
func (d *Driver) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, err
	}
	return t.status(), nil
}

// TaskStats closes its channel at once: a Slurm job runs on the
// cluster's nodes, where this driver samples nothing.
func (d *Driver) TaskStats(_ context.Context, taskID string, _ time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	if _, err := d.lookup(taskID); err != nil {
		return nil, err
	}
	ch := make(chan *drivers.TaskResourceUsage)
	close(ch)
	return ch, nil
}

// RecoverTask follows the job of a persisted handle again. Its state is
// learnt at the next poll (at once): a job that ended meanwhile ends the
// task with its real state and exit code; one Slurm no longer knows ends
// it as lost.
func (d *Driver) RecoverTask(handle *drivers.TaskHandle) error {
	if handle == nil || handle.Config == nil {
		return fmt.Errorf("recover task: no handle")
	}
	st, err := decodeDriverState(handle.DriverState)
	if err != nil {
		return fmt.Errorf("recover task %s: %w", handle.TaskID(), err)
	}
	if _, err := d.lookup(handle.TaskID()); err == nil {
		return nil
	}
	d.add(newTask(handle.Config, *st))
	d.logger.Info("task recovered", "task_id", handle.TaskID(), "slurm_job_id", st.JobID)
	d.kickPoll()
	return nil
}

// ExecTask is not supported: the job runs on the cluster's nodes.
func (d *Driver) ExecTask(context.Context, string, []string, time.Duration) (*drivers.ExecResult, error) {
	return nil, fmt.Errorf("%w: a Slurm job runs on the cluster's nodes (use srun --jobid there)", drivers.ErrNotSupported)
}
