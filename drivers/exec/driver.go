// Package exec is the exec driver: it runs a task's command as a host
// process in its own process group and cgroup, with its output in log
// files (DESIGN §10).
//
// Start: /bin/sh is started in a new process group, held at a gate (a
// pipe on fd 3) until the driver has moved it into the task's cgroup, then
// it execs the command in place, so the task's PID is its process group ID
// and nothing the task runs escapes its limits. The command is resolved in
// the task's PATH and the working directory checked first, so a task that
// cannot start fails StartTask with the reason.
//
// Cgroups (containerd/cgroups): v1 when the host mounts v1 controllers
// (legacy or hybrid), v2 when it is unified. cpu shares = MHz, memory
// limit = MB. An OOM kill is read from the cgroup's oom_kill counter after
// the task exits.
//
// Stop: the signal to the process group, then SIGKILL to the group after
// the timeout. When the task's main process exits, what is left of its
// group is killed; DestroyTask also kills whatever is left in its cgroup.
//
// Recovery: the handle records the PID, its start time in /proc and the
// cgroup paths. RecoverTask opens a pidfd on the PID, checks the start
// time (so a reused PID is not adopted), loads the cgroup and watches the
// pidfd for the exit. A recovered task is not the driver's child, so its
// exit status cannot be read: its ExitResult has Err set, Signal the last
// signal the driver sent it, and OOMKilled from the cgroup. Logs are files
// (see logs.go), so they survive a driver restart.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
)

// Name is the exec driver's name in jobs and plugin commands.
const Name = "exec"

// defaultPath is the PATH of a task whose env sets none and whose driver
// has none either.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// killWait bounds how long the driver waits for a SIGKILLed task to be
// reaped.
const killWait = 10 * time.Second

// Option configures a Driver.
type Option func(*Driver)

// WithLogConfig sets how task logs are rotated.
func WithLogConfig(c LogConfig) Option { return func(d *Driver) { d.logCfg = c } }

// Driver is the exec driver. It is safe for concurrent use (see
// drivers.Driver).
type Driver struct {
	logger hclog.Logger
	logCfg LogConfig

	mu    sync.RWMutex
	tasks map[string]*task
}

var _ drivers.Driver = (*Driver)(nil)

// New returns an exec driver that logs to logger.
func New(logger hclog.Logger, opts ...Option) *Driver {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	d := &Driver{logger: logger.Named(Name), logCfg: DefaultLogConfig, tasks: map[string]*task{}}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Fingerprint reports the driver healthy when it runs as root on a host
// with a cgroup hierarchy mounted.
func (d *Driver) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	fp := &drivers.Fingerprint{Detected: true, Attributes: map[string]string{}}
	if _, err := os.Stat(gateShell); err != nil {
		fp.Description = fmt.Sprintf("%s is missing: %v", gateShell, err)
		return fp, nil
	}
	if os.Geteuid() != 0 {
		fp.Description = "the exec driver must run as root"
		return fp, nil
	}
	v := cgroupVersion()
	if v == 0 {
		fp.Description = "no cgroup hierarchy is mounted at /sys/fs/cgroup"
		return fp, nil
	}
	fp.Healthy = true
	fp.Description = "healthy"
	fp.Attributes["driver.exec.cgroup"] = fmt.Sprintf("v%d", v)
	return fp, nil
}

// lookup returns the task with the given ID.
func (d *Driver) lookup(id string) (*task, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", drivers.ErrTaskNotFound, id)
	}
	return t, nil
}

// add registers t; it fails if a task with its ID is known.
func (d *Driver) add(t *task) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tasks[t.cfg.ID]; ok {
		return fmt.Errorf("task %q already exists", t.cfg.ID)
	}
	d.tasks[t.cfg.ID] = t
	return nil
}

// taskEnv is the environment of a task: PATH, mk's variables, then the
// task's own (which win).
func taskEnv(cfg *drivers.TaskConfig) []string {
	env := map[string]string{
		"PATH":        defaultPath,
		"MK_TASK_DIR": cfg.TaskDir,
		"MK_TASK_ID":  cfg.ID,
		"MK_TASK":     cfg.Name,
		"MK_POD_ID":   cfg.PodID,
	}
	if p := os.Getenv("PATH"); p != "" {
		env["PATH"] = p
	}
	for k, v := range cfg.Env() {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// workDir is config.work_dir, or the task directory.
func workDir(cfg *drivers.TaskConfig) string {
	if c := cfg.Task.Config; c != nil && c.WorkDir != "" {
		return c.WorkDir
	}
	return cfg.TaskDir
}

// validate checks the fields StartTask needs.
func validate(cfg *drivers.TaskConfig) error {
	switch {
	case cfg == nil:
		return errors.New("no task config")
	case cfg.ID == "":
		return errors.New("task config has no ID")
	case cfg.Task == nil:
		return errors.New("task config has no task")
	case cfg.Task.Config == nil || cfg.Task.Config.Command == "":
		return errors.New("exec task has no command")
	}
	return nil
}

// StartTask starts the task's command held at a gate, puts it into a new
// cgroup with the task's limits, then lets it run.
func (d *Driver) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("start task: %w", err)
	}
	if _, err := d.lookup(cfg.ID); err == nil {
		return nil, fmt.Errorf("start task: task %q already exists", cfg.ID)
	}
	t, err := d.start(cfg)
	if err != nil {
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	state, err := t.state.encode()
	if err == nil {
		err = d.add(t)
	}
	if err != nil {
		_ = t.signal(syscall.SIGKILL)
		t.waitExit(killWait)
		_ = t.release()
		return nil, fmt.Errorf("start task %s: %w", cfg.ID, err)
	}
	return &drivers.TaskHandle{Driver: Name, Config: cfg, DriverState: state}, nil
}

// start runs the task's process and its watchers.
func (d *Driver) start(cfg *drivers.TaskConfig) (*task, error) {
	dir := workDir(cfg)
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	env := taskEnv(cfg)
	bin, err := lookPath(cfg.Task.Config.Command, env, dir)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.Task.User)
	if err != nil {
		return nil, err
	}
	stdout, err := openLog(cfg.StdoutPath)
	if err != nil {
		return nil, fmt.Errorf("stdout: %w", err)
	}
	defer stdout.Close()
	stderr, err := openLog(cfg.StderrPath)
	if err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	defer stderr.Close()
	cg, err := newCgroup(cfg.ID, cfg.Task.Resources)
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin}, cfg.Task.Config.Args...)
	g, err := startGated(argv, env, dir, cred, stdout, stderr)
	if err != nil {
		_ = cg.Delete()
		return nil, err
	}
	pid := g.cmd.Process.Pid
	startTime, err := procStartTime(pid)
	if err == nil {
		err = cg.Add(pid)
	}
	if err == nil {
		err = g.release()
	}
	if err != nil {
		g.abort()
		_ = cg.Delete()
		return nil, err
	}
	st := driverState{PID: pid, StartTime: startTime, StartedAt: time.Now().UnixNano(), Cgroup: cg.State()}
	t := newTask(cfg, st, cg, d.logger.With("task_id", cfg.ID))
	t.env, t.dir, t.cred = env, dir, cred
	t.rotator = startRotator(d.logCfg, t.logger, cfg.StdoutPath, cfg.StderrPath)
	go t.watchChild(g.cmd)
	d.logger.Info("task started", "task_id", cfg.ID, "pid", pid, "command", bin)
	return t, nil
}

// WaitTask returns a channel that receives the task's exit result.
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
