package exec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/waiter"
)

// gatedCommand is a started process waiting at the gate.
type gatedCommand struct {
	cmd  *osexec.Cmd
	gate *os.File
}

// execStdio is where an exec'd command's input and output go: pipes to
// in, out and errOut, or, with tty set, the terminal's slave end for all
// three.
type execStdio struct {
	in          io.Reader
	out, errOut io.Writer
	tty         *os.File
}

// startGated starts argv (argv[0] already resolved) held at the gate
// (waiter.GateScript) as the driver's child: ExecTask's commands, which
// need no waiter (see internal/waiter). The caller places it in its
// cgroup, then calls release. On a terminal the command leads a session
// of its own with the terminal as its controlling one; otherwise it has a
// process group of its own.
func startGated(argv []string, env []string, dir string, cred *syscall.Credential, stdio execStdio) (*gatedCommand, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("gate pipe: %w", err)
	}
	defer r.Close()
	args := append([]string{"-c", waiter.GateScript, "mk-exec"}, argv...)
	cmd := osexec.Command(waiter.GateShell, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if stdio.tty != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.tty, stdio.tty, stdio.tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred}
	} else {
		cmd.Stdout, cmd.Stderr = stdio.out, stdio.errOut
		if stdio.in != nil {
			cmd.Stdin = stdio.in
		}
	}
	// Stop copying output once the process exits even if something it
	// started still holds the pipes.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return &gatedCommand{cmd: cmd, gate: w}, nil
}

// release lets the process exec its command.
func (g *gatedCommand) release() error {
	defer g.gate.Close()
	if _, err := g.gate.Write([]byte("go\n")); err != nil {
		return fmt.Errorf("release gate: %w", err)
	}
	return nil
}

// abort kills the held process and reaps it.
func (g *gatedCommand) abort() {
	g.gate.Close()
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
}

// credential returns the uid and gids to run as user, nil for "" (the
// driver's own).
func credential(name string) (*syscall.Credential, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("user %q does not exist on this node", name)
		}
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, nil
}

// giveTaskDir makes the task directory and log files the task user's, so a
// task run as a user can work in its directory and read its logs. The
// directory above (the pod's, which holds the exit files) stays root's.
func giveTaskDir(cfg *drivers.TaskConfig, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	uid, gid := int(cred.Uid), int(cred.Gid)
	if err := os.Chown(cfg.TaskDir, uid, gid); err != nil {
		return fmt.Errorf("give the task directory to user %d: %w", uid, err)
	}
	for _, p := range []string{cfg.StdoutPath, cfg.StderrPath} {
		f, err := openLog(p)
		if err != nil {
			return err
		}
		err = f.Chown(uid, gid)
		f.Close()
		if err != nil {
			return fmt.Errorf("give log %s to user %d: %w", p, uid, err)
		}
	}
	return nil
}

// lookPath resolves a task's command the way exec(3p) would in the task,
// seeing paths through the task's mounts: a name with a slash is a path
// (relative to dir), a bare name is searched in the task's PATH (the
// driver's own when the task sets none). It returns the path in the task.
func lookPath(name string, env []string, dir string, mounts mountTable) (string, error) {
	if name == "" {
		return "", errors.New("no command given")
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(mounts.hostPath(p)); err != nil {
			return "", fmt.Errorf("command %q: %w", name, err)
		}
		return p, nil
	}
	pathEnv := os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		if checkExecutable(mounts.hostPath(p)) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q: not found in PATH %q", name, pathEnv)
}

// checkExecutable returns an error unless p is an executable file.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return errors.New("permission denied: not executable")
	}
	return nil
}

// checkDir returns an error unless dir is an existing directory, as the
// task sees it through its mounts.
func checkDir(dir string, mounts mountTable) error {
	if err := isDir(mounts.hostPath(dir)); err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	return nil
}

// procStartTime returns a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat). With the PID it names one process for
// good: a reused PID has a later start time.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process %d: malformed stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("process %d: short stat", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("process %d: has exited", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// foreignProcess is a process that is not our child (one recovered after
// a restart), watched through a pidfd: waitpid cannot tell when it exits.
type foreignProcess struct {
	pidfd int
}

// openForeign opens a pidfd on pid and checks it is the process that
// started at startTime.
func openForeign(pid int, startTime uint64) (*foreignProcess, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("open process %d: %w", pid, err)
	}
	// The pidfd pins the process; a start time read after opening it
	// cannot belong to a later process with the same PID.
	st, err := procStartTime(pid)
	if err == nil && st != startTime {
		err = reusedError(pid, st, startTime)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &foreignProcess{pidfd: fd}, nil
}

// checkStartTime fails when pid runs but is not the process that started
// at startTime; a PID that runs nothing passes.
func checkStartTime(pid int, startTime uint64) error {
	if st, err := procStartTime(pid); err == nil && st != startTime {
		return reusedError(pid, st, startTime)
	}
	return nil
}

func reusedError(pid int, got, want uint64) error {
	return fmt.Errorf("process %d started at tick %d, not %d: the PID was reused", pid, got, want)
}

// wait blocks until the process exits or stop is closed (then returns
// false).
func (p *foreignProcess) wait(stop <-chan struct{}) bool {
	defer p.close()
	for {
		fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 200)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return true
		}
		if n > 0 {
			return true
		}
		select {
		case <-stop:
			return false
		default:
		}
	}
}

// close releases the pidfd.
func (p *foreignProcess) close() { _ = unix.Close(p.pidfd) }

// signalGroup sends sig to the process group pgid; a group that is gone
// is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s to process group %d: %w", sig, pgid, err)
	}
	return nil
}

// parseSignal maps "SIGTERM", "TERM", "term" or "15" to a signal; "" is
// SIGTERM.
func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
