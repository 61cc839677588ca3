package waiter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

// An isolated task (Spec.Isolate) runs under an init of its own: the
// driver's binary once more, as `mk plugin exec-init`, which the waiter
// starts in new PID, IPC, UTS and mount namespaces. It is PID 1 there: it
// makes the task's mounts and a /proc of the namespace (so ps in the task
// shows the pod's processes only), sets the host name, and once the
// driver has put it into the task's cgroup and opened the gate, starts
// the task, passes the signals it gets on to the task's process group,
// reaps every orphan, and writes the task's exit to the exit file. When
// the task's main process exits, init exits and the kernel kills what is
// left in the namespace.

// InitCommand is the `mk plugin` argument that runs an isolated task's
// init.
const InitCommand = "exec-init"

// InitEnvMarker marks an init process, as EnvMarker marks a waiter.
const InitEnvMarker = "MK_EXEC_INIT"

// init's descriptors: 0 /dev/null, 1 and 2 the task's logs, then these.
const (
	initGateFD  = 3 // the gate's read end
	initSpecFD  = 4 // the encoded Spec
	initReadyFD = 5 // gets "ok\n" or "error MSG\n" once set up
)

// forwardedSignals are the signals init passes on to the task.
var forwardedSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// startInit starts the init of an isolated task and waits until it has
// set the namespaces up; it returns init's process (the task's, for the
// driver: its PID is what goes into the cgroup and gets the signals).
func startInit(spec *Spec, files []*os.File) (*os.Process, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("init spec pipe: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, fmt.Errorf("init ready pipe: %w", err)
	}
	defer readyR.Close()
	proc, err := os.StartProcess("/proc/self/exe", []string{os.Args[0], "plugin", InitCommand}, &os.ProcAttr{
		Env:   []string{InitEnvMarker + "=1", "GOMAXPROCS=1", "GORACE=atexit_sleep_ms=0"},
		Files: append(append([]*os.File{}, files...), specR, readyW),
		Sys: &syscall.SysProcAttr{Setpgid: true,
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS},
	})
	specR.Close()
	readyW.Close()
	if err != nil {
		specW.Close()
		return nil, fmt.Errorf("start the task's init: %w", err)
	}
	_, werr := specW.Write(spec.Encode())
	specW.Close()
	line, rerr := bufio.NewReader(readyR).ReadString('\n')
	verb, msg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if verb == "ok" {
		return proc, nil
	}
	_ = proc.Kill()
	_, _ = proc.Wait()
	switch {
	case verb == "error":
		return nil, errors.New(msg)
	case werr != nil:
		return nil, fmt.Errorf("send the task's init its spec: %w", werr)
	}
	return nil, fmt.Errorf("the task's init exited before it was ready: %v", rerr)
}

// InitMain is the init process; it returns init's exit code.
func InitMain() int {
	if v, _ := syscall.Getenv(InitEnvMarker); v != "1" {
		fmt.Fprintf(os.Stderr, "mk plugin %s is started by the exec driver, not by hand\n", InitCommand)
		return 2
	}
	// Handled before anything can send them: as PID 1, init would
	// otherwise not even get them.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	ready := os.NewFile(initReadyFD, "ready")
	spec, err := setupInit()
	if err != nil {
		fmt.Fprintf(ready, "error %s\n", err)
		return 1
	}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	if !gateOpened(os.NewFile(initGateFD, "gate")) {
		return 125 // the driver died before letting the task run
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return failStart(spec, fmt.Errorf("stdin: %w", err))
	}
	proc, err := os.StartProcess(spec.Argv[0], spec.Argv, &os.ProcAttr{
		Dir: spec.Dir, Env: spec.Env, Files: []*os.File{devNull, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{Setpgid: true, Credential: spec.Cred},
	})
	devNull.Close()
	if err != nil {
		return failStart(spec, fmt.Errorf("start %s in %s: %w", spec.Argv[0], spec.Dir, err))
	}
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(-proc.Pid, sig.(syscall.Signal))
		}
	}()
	ws := reapUntil(proc.Pid)
	if err := WriteExitFile(spec.ExitFile, ExitOf(ws)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// setupInit reads the spec and sets up the namespaces init was started in.
func setupInit() (*Spec, error) {
	b, err := io.ReadAll(os.NewFile(initSpecFD, "spec"))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	spec, err := DecodeSpec(b)
	if err != nil {
		return nil, err
	}
	if err := mountns.SetupProcess(spec.Mounts, true); err != nil {
		return nil, err
	}
	if spec.Hostname != "" {
		if err := syscall.Sethostname([]byte(spec.Hostname)); err != nil {
			return nil, fmt.Errorf("set the host name %q: %w", spec.Hostname, err)
		}
	}
	return spec, nil
}

// gateOpened waits for the driver's "go".
func gateOpened(gate *os.File) bool {
	defer gate.Close()
	line, err := bufio.NewReader(gate).ReadString('\n')
	return err == nil && line == "go\n"
}

// failStart records a task that could not start as exit code 127, with
// the reason in its stderr log, as a shell would.
func failStart(spec *Spec, err error) int {
	fmt.Fprintf(os.Stderr, "mk: %v\n", err)
	if werr := WriteExitFile(spec.ExitFile, Exit{ExitCode: 127}); werr != nil {
		return 1
	}
	return 0
}

// reapUntil reaps every child (orphans of the namespace are init's) until
// the task's main process exits, and returns its status.
func reapUntil(pid int) syscall.WaitStatus {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			// No child left: the task is gone without a status.
			return syscall.WaitStatus(127 << 8)
		case got == pid:
			return ws
		}
	}
}
