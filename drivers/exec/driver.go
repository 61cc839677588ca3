// Package exec is the exec driver: it runs a task's command as a host
// process in its own process group and cgroup, with its output in log
// files (DESIGN §10).
//
// Waiter: a task's parent is not the driver but a waiter of its own (see
// internal/waiter): the driver's binary started again as `mk plugin
// exec-waiter`, in a session of its own and in the driver's cgroup, not
// the task's. Only a process's parent can read its exit status; the waiter
// outlives a driver or agent restart, so the status does too. It writes
// the task's exit code and signal to an exit file beside the task's stdout
// log (.mk-exit-<task>.json, temp file + rename), then exits.
//
// Start: the waiter starts /bin/sh in a new process group, held at a gate
// (a pipe on fd 3 whose write end only the driver holds), and reports its
// PID; the driver moves it into the task's cgroup and releases the gate,
// and the shell execs the command in place, so the task's PID is its
// process group ID and nothing the task runs escapes its limits. A driver
// that dies before the release closes the gate: the task never runs. The
// command is resolved in the task's PATH and the working directory
// checked first, so a task that cannot start fails StartTask with the
// reason. A waiter costs StartTask a process start (a few ms).
//
// Mounts (TaskConfig.Mounts, from volume_mount): a task with mounts runs
// in a mount namespace of its own, made by its waiter before it starts the
// gate shell, on a thread of its own whose namespace the shell inherits
// while the waiter stays in the host's (internal/mountns). There the
// copies of the host's mounts become slaves of them (the task's mounts
// never reach the host; the host's unmounts below its shared mounts reach
// the task, which so does not pin them), and each volume is bind-mounted
// at its destination, parents first, and remounted read-only when asked.
// The mounts are made as root before the shell exists, so the task's user
// needs no rights for them, and the guarantees above hold unchanged. The
// driver checks sources and destinations first: a missing source or a
// destination that is not a directory fails StartTask naming the volume
// and destination, as does a mount that fails in the waiter. A
// destination missing on the host is created there (or in the volume
// mounted above it), empty: the mount on it is seen by the task alone.
// The command and working directory are looked up through the mounts;
// ExecTask's commands join the task's namespace (from a thread of the
// driver's that ends afterwards), so they see what the task sees. Tasks
// without mounts stay in the host's namespace and pay nothing for this.
//
// Network (TaskConfig.NetNSPath, the pod's network namespace, which the
// client makes): the waiter starts the task from a thread of its own that
// has joined the namespace, so the task (an isolated task's init and all
// it starts) runs in it while the waiter stays in the host's; ExecTask's
// commands join the task's. The pod's resolv.conf (ResolvConfPath) is
// bind-mounted over /etc/resolv.conf in the task's mount namespace (raw
// tasks get one for it), never by changing the host's file. Tasks of
// pods in the host's network (no NetNSPath) are as before.
//
// Cgroups (containerd/cgroups): v1 when the host mounts v1 controllers
// (legacy or hybrid), v2 when it is unified. cpu shares = MHz, memory
// limit = MB. An OOM kill is read from the cgroup's oom_kill counter after
// the task exits.
//
// Stop: the signal to the process group, then SIGKILL to the group after
// the timeout. When the task's main process exits, what is left of its
// group is killed; DestroyTask also kills whatever is left in its cgroup
// and removes the exit file.
//
// Exit: the driver that started the task waits for its waiter (its
// child), then reads the exit file. Recovery: the handle records the PIDs
// and /proc start times of the task and its waiter, the exit file and the
// cgroup paths. RecoverTask watches a running waiter by pidfd (checking
// start times, so a reused PID is not adopted) and reads the exit file
// when it is gone; a task that exited while no driver ran is recovered as
// exited, with its exit. Only when the waiter was killed (or for handles
// from before waiters) is the task watched by its own pidfd and its
// status unknown: its ExitResult has Err set, Signal the last signal the
// driver sent it, and OOMKilled from the cgroup. Logs are files (see
// logs.go), so they survive a driver restart.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/waiter"
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

// RawName is the name of the exec driver without isolation.
const RawName = "raw_exec"

// Raw makes the driver raw_exec: tasks run in the host's PID, IPC, UTS
// and (unless they mount volumes) mount namespaces, as exec tasks did
// before isolation. Clients offer it only where their config enables it.
func Raw() Option { return func(d *Driver) { d.name, d.raw = RawName, true } }

// Driver is the exec driver. It is safe for concurrent use (see
// drivers.Driver).
type Driver struct {
	logger hclog.Logger
	logCfg LogConfig
	// name is Name or RawName; raw turns isolation off.
	name string
	raw  bool

	mu    sync.RWMutex
	tasks map[string]*task
}

var _ drivers.Driver = (*Driver)(nil)

// New returns an exec driver that logs to logger.
func New(logger hclog.Logger, opts ...Option) *Driver {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	d := &Driver{logCfg: DefaultLogConfig, name: Name, tasks: map[string]*task{}}
	for _, o := range opts {
		o(d)
	}
	d.logger = logger.Named(d.name)
	return d
}

// Fingerprint reports the driver healthy when it runs as root on a host
// with a cgroup hierarchy mounted.
func (d *Driver) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	fp := &drivers.Fingerprint{Detected: true, Attributes: map[string]string{}}
	if _, err := os.Stat(waiter.GateShell); err != nil {
		fp.Description = fmt.Sprintf("%s is missing: %v", waiter.GateShell, err)
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
	fp.Attributes["driver."+d.name+".cgroup"] = fmt.Sprintf("v%d", v)
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

// taskEnv is the environment of a task: a standard PATH, mk's variables,
// then the task's own (which win). Nothing of the agent's environment
// gets in.
func taskEnv(cfg *drivers.TaskConfig) []string {
	env := map[string]string{
		"PATH":        defaultPath,
		"MK_TASK_DIR": cfg.TaskDir,
		"MK_TASK_ID":  cfg.ID,
		"MK_TASK":     cfg.Name,
		"MK_POD_ID":   cfg.PodID,
	}
	for k, v := range cfg.Env() {
		env[k] = v
	}
	if len(cfg.GPUs) > 0 {
		// The GPUs the scheduler gave the task, and no others: CUDA
		// numbers the visible devices from 0 again.
		env["CUDA_VISIBLE_DEVICES"] = strings.Join(cfg.GPUs, ",")
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
	return &drivers.TaskHandle{Driver: d.name, Config: cfg, DriverState: state}, nil
}

// start runs the task's process and its watchers.
func (d *Driver) start(cfg *drivers.TaskConfig) (*task, error) {
	spec, err := d.waiterSpec(cfg)
	if err != nil {
		return nil, err
	}
	// A file left by an earlier run of the task would be taken for this
	// run's exit should this run's waiter be killed.
	if err := os.Remove(spec.ExitFile); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove old exit file: %w", err)
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
	l, err := launch(spec, stdout, stderr)
	if err != nil {
		return nil, err
	}
	// The waiter starts (a Go runtime: a few ms) while the cgroup is made.
	cg, err := newCgroup(cfg.ID, cfg.Task.Resources)
	if err != nil {
		l.abort()
		_ = os.Remove(spec.ExitFile)
		return nil, err
	}
	st, err := l.place(cg)
	if err != nil {
		l.abort()
		_ = os.Remove(spec.ExitFile)
		_ = cg.Delete()
		return nil, err
	}
	st.ExitFile, st.Isolated = spec.ExitFile, spec.Isolate
	t := newTask(cfg, st, cg, d.logger.With("task_id", cfg.ID))
	t.env, t.dir, t.cred, t.mounts = spec.Env, spec.Dir, spec.Cred, spec.Mounts
	t.rotator = startRotator(d.logCfg, t.logger, cfg.StdoutPath, cfg.StderrPath)
	go t.watchWaiter(l.waiter)
	d.logger.Info("task started", "task_id", cfg.ID, "pid", st.PID, "waiter_pid", st.WaiterPID, "command", spec.Argv[0])
	return t, nil
}

// waiterSpec resolves what the task runs, where and as whom, so that a
// task that cannot start fails StartTask with the reason.
func (d *Driver) waiterSpec(cfg *drivers.TaskConfig) (*waiter.Spec, error) {
	mounts, err := d.taskMounts(cfg)
	if err == nil {
		err = mounts.check()
	}
	if err != nil {
		return nil, err
	}
	dir := workDir(cfg)
	if err := checkDir(dir, mounts); err != nil {
		return nil, err
	}
	env := taskEnv(cfg)
	bin, err := lookPath(cfg.Task.Config.Command, env, dir, mounts)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.Task.User)
	if err != nil {
		return nil, err
	}
	if err := giveTaskDir(cfg, cred); err != nil {
		return nil, err
	}
	// Last: a task that cannot start for another reason leaves no
	// directory behind.
	if err := mounts.makeDestinations(); err != nil {
		return nil, err
	}
	spec := &waiter.Spec{
		Argv:     append([]string{bin}, cfg.Task.Config.Args...),
		Env:      env,
		Dir:      dir,
		Cred:     cred,
		ExitFile: exitFilePath(cfg.ID, cfg.StdoutPath),
		Mounts:   mounts,
		Isolate:  !d.raw,
		NetNS:    cfg.NetNSPath,
	}
	if spec.Isolate {
		spec.Hostname = hostname(cfg)
	}
	return spec, nil
}

// taskMounts is the task's volume mounts, its pod's resolv.conf and,
// isolated, its private /tmp, in mount order.
func (d *Driver) taskMounts(cfg *drivers.TaskConfig) (mountTable, error) {
	mounts, err := newMountTable(cfg.Mounts)
	if err != nil {
		return nil, err
	}
	extra := resolvConfMount(cfg, mounts)
	if !d.raw {
		tmp, err := privateTmp(cfg, mounts)
		if err != nil {
			return nil, err
		}
		extra = append(extra, tmp...)
	}
	if len(extra) == 0 {
		return mounts, nil
	}
	all := append(append(mountTable{}, mounts...), extra...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Target < all[j].Target })
	return all, nil
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
