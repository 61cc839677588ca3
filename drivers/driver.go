// Package drivers defines the interface between the client and a task
// driver (DESIGN §10). A driver runs the tasks of pods: exec runs host
// processes, docker runs containers, and so on. Drivers run out of process
// as go-plugin plugins (package drivers/plugin); this package holds only
// the interface and the types that cross it.
package drivers

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// ErrTaskNotFound is returned for a task ID the driver does not know: never
// started, already destroyed, or not recovered after a restart.
var ErrTaskNotFound = errors.New("task not found")

// ErrTaskRunning is returned by DestroyTask without force for a task that
// is still running.
var ErrTaskRunning = errors.New("task is still running")

// Driver runs tasks.
//
// Concurrency: every method is safe to call from many goroutines at once,
// for the same task or for different tasks. Calls for one task are not
// ordered by the driver: the caller (the task runner) serialises the life
// cycle of a task (Start, then Wait/Stop/Inspect/Stats/Exec in any order,
// then Destroy). Channels returned by WaitTask and TaskStats are owned by
// the driver, which closes them; WaitTask's channel delivers one result
// and is closed, or is closed without one when its context is cancelled.
// Cancelling the context passed to WaitTask or TaskStats releases the
// goroutine behind the channel and closes it.
//
// Restart: a driver keeps no state on disk. The client persists the
// TaskHandle returned by StartTask and hands it to RecoverTask after the
// driver (or the client) restarted; a recovered task is then known to the
// driver like one it started.
type Driver interface {
	// Fingerprint reports whether the driver can run on this node.
	Fingerprint(ctx context.Context) (*Fingerprint, error)
	// StartTask starts a task and returns the handle the client persists.
	// A task that cannot start (missing binary, bad working directory)
	// returns an error naming the reason, and leaves nothing behind.
	StartTask(cfg *TaskConfig) (*TaskHandle, error)
	// WaitTask returns a channel that receives the task's exit result once
	// it exits (at once when it has already exited) and is then closed.
	WaitTask(ctx context.Context, taskID string) (<-chan *ExitResult, error)
	// StopTask sends signal (SIGTERM when empty) to the task, waits up to
	// timeout for it to exit, then kills it and everything it started.
	// It returns once the task is dead.
	StopTask(taskID string, timeout time.Duration, signal string) error
	// DestroyTask releases everything the driver holds for the task
	// (cgroups, goroutines). A running task is an error (ErrTaskRunning)
	// unless force is set, in which case it is killed first.
	DestroyTask(taskID string, force bool) error
	// InspectTask returns the task's current status.
	InspectTask(taskID string) (*TaskStatus, error)
	// TaskStats sends the task's resource usage every interval until ctx is
	// done or the task exits, then closes the channel.
	TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *TaskResourceUsage, error)
	// RecoverTask reattaches to a task from its persisted handle. It fails
	// when the task is no longer running (or its PID now belongs to
	// another process); the client then treats the task as lost.
	RecoverTask(handle *TaskHandle) error
	// ExecTask runs cmd inside the task's environment (its environment
	// variables, working directory and cgroup) and returns its output. The
	// command is killed when timeout passes (the error then matches
	// context.DeadlineExceeded) or when ctx ends (ctx.Err()).
	ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*ExecResult, error)
}

// TaskConfig is what the client gives a driver to start a task.
type TaskConfig struct {
	// ID is unique on the node: the pod ID, "/", the task name.
	ID    string
	PodID string
	Name  string
	Task  *structs.Task
	// TaskDir is the task's private directory; the default working
	// directory.
	TaskDir string
	// StdoutPath and StderrPath are the task's log files.
	StdoutPath string
	StderrPath string
	// NetNSPath is the pod's network namespace ("" for the host's): the
	// task runs in it, and so do the commands ExecTask runs in the task.
	NetNSPath string `json:",omitempty"`
	// ResolvConfPath is the pod's resolv.conf, which a task in NetNSPath
	// sees at /etc/resolv.conf (a bind mount in the task's mount
	// namespace; the host's file is never changed). "" leaves the
	// host's.
	ResolvConfPath string `json:",omitempty"`
	// Mounts are the task's volume mounts: host directories the task
	// sees at other paths.
	Mounts []*MountConfig `json:",omitempty"`
	// NodeID and JobID say whose task it is: drivers label what they make
	// with them (docker: container labels), so a restarted client finds
	// its own and reaps what belongs to no pod it knows.
	NodeID string `json:",omitempty"`
	JobID  string `json:",omitempty"`
	// GPUs are the indexes of the node's GPUs the task may use (the
	// scheduler's, from its pod's): exec sets CUDA_VISIBLE_DEVICES to
	// them, docker asks the Engine for them (DeviceRequests).
	GPUs []string `json:",omitempty"`
}

// MountConfig is one volume mount of a task (a volume_mount block): the
// task sees the host directory HostPath at TaskPath.
type MountConfig struct {
	// Volume is the name of the group volume, for error messages.
	Volume string `json:",omitempty"`
	// HostPath is the directory on the host: an ephemeral volume's
	// directory in the pod's directory, or a host volume's source.
	HostPath string
	// TaskPath is the absolute path at which the task sees it.
	TaskPath string
	// ReadOnly refuses the task's writes through the mount.
	ReadOnly bool `json:",omitempty"`
}

// TaskID builds a TaskConfig ID from a pod ID and a task name.
func TaskID(podID, taskName string) string { return podID + "/" + taskName }

// Env returns the task's environment variables, nil-safe.
func (c *TaskConfig) Env() map[string]string {
	if c.Task == nil {
		return nil
	}
	return c.Task.Env
}

// TaskHandle is what the client persists for a started task: enough for
// the same driver to reattach to it after a restart.
type TaskHandle struct {
	// Driver is the name of the driver that started the task.
	Driver string
	// Config is the config the task was started with.
	Config *TaskConfig
	// DriverState is opaque to the client (for exec: PID, process start
	// time, cgroup).
	DriverState []byte
}

// TaskID returns the ID of the handle's task.
func (h *TaskHandle) TaskID() string {
	if h == nil || h.Config == nil {
		return ""
	}
	return h.Config.ID
}

// Fingerprint says whether a driver can run tasks on this node.
type Fingerprint struct {
	// Detected: the driver's prerequisites exist on this node.
	Detected bool
	// Healthy: the driver can start tasks now.
	Healthy bool
	// Description says why the driver is unhealthy, or what it runs.
	Description string
	// Attributes are added to the node's attributes ("driver.exec.cgroup").
	Attributes map[string]string
}

// ExitResult is how a task ended.
type ExitResult struct {
	ExitCode int
	// Signal is the signal that killed the task, 0 when it exited.
	Signal int
	// OOMKilled is set when the kernel OOM-killed a process of the task
	// for passing the task's memory limit (the main process, or one it
	// started: then ExitCode is what the main process made of that).
	OOMKilled bool
	// Err is set when the driver could not learn how the task ended.
	Err error
}

// Successful reports whether the task exited 0 on its own.
func (r *ExitResult) Successful() bool {
	return r.ExitCode == 0 && r.Signal == 0 && !r.OOMKilled && r.Err == nil
}

// Task states reported by InspectTask. A task is pending when it was
// accepted but does not run yet (gpu-slurm: a Slurm job that waits in
// the queue); TaskStatus.Details then say why.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	TaskStateExited  = "exited"
)

// TaskStatus is a task's current status.
type TaskStatus struct {
	ID    string
	Name  string
	State string
	PID   int
	// StartedAt and CompletedAt are unix nanos; CompletedAt is 0 while
	// running.
	StartedAt   int64
	CompletedAt int64
	// ExitResult is set once the task has exited.
	ExitResult *ExitResult
	// Details are what the driver knows of the task beyond its state, for
	// people (gpu-slurm: slurm_job_id, slurm_state, reason, partition,
	// gpus). A driver that reports details has its tasks followed: the
	// client inspects them while they run and shows changes in the pod's
	// status. Nil for drivers with nothing to add.
	Details map[string]string `json:",omitempty"`
}

// TaskResourceUsage is one sample of a task's resource use.
type TaskResourceUsage struct {
	// Timestamp is unix nanos.
	Timestamp int64
	// CPUPercent is the share of one core used since the last sample
	// (200 = two full cores).
	CPUPercent float64
	// CPUTotalNanos is the CPU time used since the task started.
	CPUTotalNanos uint64
	// MemoryRSS is the task's resident anonymous memory in bytes.
	MemoryRSS uint64
	// MemoryUsage is all memory charged to the task (RSS and page cache).
	MemoryUsage uint64
}

// ExecResult is the outcome of ExecTask.
type ExecResult struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// StreamingExecer is an optional capability of a Driver: an exec whose
// input and output stream while the command runs, optionally on a
// pseudo-terminal. The client type-asserts a Driver to it.
//
// Concurrency: safe to call from many goroutines at once, like Driver's
// methods; one call uses its ExecStreamOptions alone.
type StreamingExecer interface {
	// ExecTaskStreaming runs opts.Command inside the task's environment
	// (as ExecTask does) and returns its exit code once it has exited and
	// its output has been written. Input is read from opts.Stdin until it
	// ends (EOF closes the command's input); output is written as it
	// comes. When ctx ends the command and what it started are killed and
	// the error matches ctx.Err(). A command that is not found exits 127.
	ExecTaskStreaming(ctx context.Context, taskID string, opts *ExecStreamOptions) (int, error)
}

// ExecStreamOptions is what ExecTaskStreaming runs and where its input and
// output go.
type ExecStreamOptions struct {
	// Command is the program and its arguments.
	Command []string
	// TTY runs the command on a new pseudo-terminal: its stdout and
	// stderr are one stream, written to Stdout.
	TTY bool
	// Stdin is the command's input; nil gives it none.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; the driver may
	// write to them from two goroutines, never at once.
	Stdout, Stderr io.Writer
	// Resize sends the terminal's new size (TTY only); may be nil.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Rows, Cols uint16
}

// ErrNotSupported is returned (wrapped) for an optional capability the
// driver behind a plugin does not have.
var ErrNotSupported = errors.New("not supported by this driver")

// NetworkDriver is an optional capability of a Driver that owns the
// network namespace of the pods it runs tasks of (DESIGN §10): docker
// makes a pause container whose namespace the client plumbs (veth,
// address, routes) and every task of the pod joins, whatever its driver.
//
// Concurrency: safe for concurrent use; calls for one pod are serialised
// by the client (Create before the pod's tasks start, Destroy after they
// stopped).
type NetworkDriver interface {
	// CreateNetwork makes the pod's sandbox, or returns the one it has
	// (a restarted client), running.
	CreateNetwork(ctx context.Context, req *NetworkRequest) (*NetworkSpec, error)
	// DestroyNetwork removes the pod's sandbox; one that is gone is not
	// an error.
	DestroyNetwork(ctx context.Context, podID string) error
}

// NetworkRequest is what CreateNetwork needs of a pod.
type NetworkRequest struct {
	PodID  string
	NodeID string
	JobID  string
	// Images are the images of the pod's tasks of this driver, which it
	// may get ready while it makes the sandbox.
	Images []ImageRef
}

// ImageRef is an image of a task and its pull policy.
type ImageRef struct {
	Image string
	Pull  string
}

// NetworkSpec is a pod's sandbox.
type NetworkSpec struct {
	// NetNSPath is the sandbox's network namespace
	// (/proc/<pid>/ns/net), which the client pins and plumbs.
	NetNSPath string
	// SandboxID is the driver's name for it (a container ID).
	SandboxID string
}

// Reconciler is an optional capability of a Driver that finds what it
// made without a handle (containers by their labels): Reconcile removes
// what belongs to node nodeID but to none of the live pods, and returns
// the names of what it removed. The client calls it at start and then
// periodically.
type Reconciler interface {
	Reconcile(ctx context.Context, nodeID string, livePods []string) ([]string, error)
}
