// Package waiter is the exec driver's per-task waiter: the driver's own
// binary started again as `mk plugin exec-waiter`, one per task, outside
// the task's cgroup and in a session of its own. It starts the task's gate
// shell as its child (in a mount namespace with the task's volume mounts,
// for a task that has any, and in its pod's network namespace, for a task
// of a pod that has one), tells the driver the task's PID, waits for
// the task and writes how it ended to the exit file, then exits. Only a
// process's parent can read its exit status; the waiter outlives the
// driver, so a task's exit status survives driver and agent restarts.
//
// The waiter runs from the package's init function, before main and,
// since Go initialises a package as soon as its imports are, before most
// of the binary's packages: mk would otherwise spend about 8 ms
// initialising packages (protobuf, gRPC, …) the waiter does not need, on
// every task start. That is why this package imports so little (no
// os/exec, no encoding/json: each would put its init behind most of the
// binary's) and why the spec has a format of its own. Running from init
// also makes every binary that links the driver a waiter, the test
// binaries that run the driver in process included, which would otherwise
// run their tests when started with the waiter's arguments.
package waiter

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

// Command is the `mk plugin` argument that runs the waiter.
const Command = "exec-waiter"

// EnvMarker marks a waiter process: the driver sets it to "1", and the
// init hook needs it as well as the arguments, so a person typing
// `mk plugin exec-waiter` gets the command's own answer.
const EnvMarker = "MK_EXEC_WAITER"

// The waiter's file descriptors, besides stdin (the encoded Spec) and
// stdout and stderr (/dev/null: a pipe to the driver would die with it).
const (
	// CtlFD gets "pid N\n" or "error MSG\n", then is closed.
	CtlFD = 3
	// GateFD is the gate's read end, handed to the task as its fd 3.
	GateFD = 4
	// StdoutFD and StderrFD are the task's log files.
	StdoutFD = 5
	StderrFD = 6
)

// GateScript holds a new process until the driver has put it into its
// cgroup: the driver writes "go" to fd 3 after cgroup placement, and the
// shell then execs the task's command in its place (same PID, same process
// group). Without it the task could allocate memory or fork before it is
// limited. If the driver dies first, the read sees EOF and the task never
// runs.
const GateScript = `read -r mk_gate <&3 && [ "$mk_gate" = go ] || exit 125; exec 3<&-; unset mk_gate; exec "$@"`

// GateShell runs GateScript.
const GateShell = "/bin/sh"

func init() {
	if len(os.Args) != 3 || os.Args[1] != "plugin" {
		return
	}
	if v, _ := syscall.Getenv(EnvMarker); v == "1" && os.Args[2] == Command {
		os.Exit(Main())
	}
	if v, _ := syscall.Getenv(InitEnvMarker); v == "1" && os.Args[2] == InitCommand {
		os.Exit(InitMain())
	}
}

// Main is the waiter process; it returns the waiter's exit code. Its
// descriptors and stdin are set up by the driver: run by hand (without
// EnvMarker), it only says so.
func Main() int {
	if v, _ := syscall.Getenv(EnvMarker); v != "1" {
		fmt.Fprintf(os.Stderr, "mk plugin %s is started by the exec driver, not by hand\n", Command)
		return 2
	}
	// Signals meant for the driver must not end the waiter before its
	// task. Handled (not ignored) signals are reset to the default by
	// exec, so the task does not inherit this.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGPIPE)
	ctl := os.NewFile(CtlFD, "ctl")
	proc, exitFile, err := startTask()
	if err != nil {
		fmt.Fprintf(ctl, "error %s\n", err)
		return 1
	}
	// Nothing more goes to the driver: one that died since reads nothing,
	// and the write only fails (EPIPE; Go raises no SIGPIPE for it).
	fmt.Fprintf(ctl, "pid %d\n", proc.Pid)
	ctl.Close()
	ps, err := proc.Wait()
	if err != nil {
		return 1 // no status to record: the driver falls back
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if _, err := os.Stat(exitFile); err == nil {
		return 0 // the task's init wrote it (an isolated task)
	}
	if err := WriteExitFile(exitFile, ExitOf(ws)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startTask reads the spec and starts the task's gate shell with the
// descriptors the driver passed.
func startTask() (*os.Process, string, error) {
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		return nil, "", fmt.Errorf("read spec: %w", err)
	}
	spec, err := DecodeSpec(b)
	if err != nil {
		return nil, "", err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, "", fmt.Errorf("stdin: %w", err)
	}
	files := []*os.File{devNull, os.NewFile(StdoutFD, "stdout"), os.NewFile(StderrFD, "stderr"), os.NewFile(GateFD, "gate")}
	// The task alone holds the gate and the logs from here: with the
	// waiter's copies closed, a driver death closes the gate for good.
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if spec.Isolate {
		// init makes the mounts, in the namespaces it is started in.
		var proc *os.Process
		err := inNetwork(spec, func() (err error) {
			proc, err = startInit(spec, files)
			return err
		})
		if err != nil {
			return nil, "", err
		}
		return proc, spec.ExitFile, nil
	}
	var proc *os.Process
	start := func() error {
		argv := append([]string{GateShell, "-c", GateScript, "mk-exec"}, spec.Argv...)
		proc, err = os.StartProcess(GateShell, argv, &os.ProcAttr{
			Dir:   spec.Dir,
			Env:   spec.Env,
			Files: files,
			Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: spec.Cred},
		})
		if err != nil {
			// The error does not say whether exec or chdir failed.
			return fmt.Errorf("start %s in %s: %w", spec.Argv[0], spec.Dir, err)
		}
		return nil
	}
	switch {
	case len(spec.Mounts) == 0:
		err = inNetwork(spec, start)
	default:
		// The mounts are made here, as root and before the task's shell
		// exists (not by the shell, which may run as the task's user),
		// on a thread whose namespace the shell inherits: the waiter
		// itself stays in the host's (see package mountns). That costs
		// a thread and a copy of the host's mount table; tasks without
		// mounts pay nothing.
		err = mountns.OnNewThread(func() error {
			if spec.NetNS != "" {
				if err := mountns.JoinNetwork(spec.NetNS); err != nil {
					return err
				}
			}
			if err := mountns.Setup(spec.Mounts); err != nil {
				return err
			}
			return start()
		})
	}
	if err != nil {
		return nil, "", err
	}
	return proc, spec.ExitFile, nil
}

// inNetwork runs start in the pod's network namespace (spec.NetNS): on a
// thread of its own that joins it, whose namespace what start forks
// inherits, while the waiter stays in the host's. Without one, start
// runs as is.
func inNetwork(spec *Spec, start func() error) error {
	if spec.NetNS == "" {
		return start()
	}
	return mountns.OnNewThread(func() error {
		if err := mountns.JoinNetwork(spec.NetNS); err != nil {
			return err
		}
		return start()
	})
}
