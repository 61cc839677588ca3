package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// ExecTask runs cmd in the task's environment, working directory and
// cgroup, in a process group of its own that is killed on timeout. A
// command that is not found exits 127, as in a shell.
func (d *Driver) ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	t, bin, err := d.execTarget(taskID, cmd)
	if nf := (*notFoundError)(nil); errors.As(err, &nf) {
		// As a shell answers: the command's own failure, exit code 127.
		return &drivers.ExecResult{Stderr: []byte(nf.Error() + "\n"), ExitCode: 127}, nil
	}
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	g, err := t.startInTask(append([]string{bin}, cmd[1:]...), execStdio{out: &stdout, errOut: &stderr})
	if err != nil {
		return nil, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	code, err := waitExec(ctx, g, timeout)
	if err != nil {
		return nil, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	return &drivers.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// execTarget finds the running task to exec in and resolves the command's
// program in the task's view of the files. A program that is not found
// is a *notFoundError.
func (d *Driver) execTarget(taskID string, cmd []string) (*task, string, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, "", fmt.Errorf("exec in task: %w", err)
	}
	if len(cmd) == 0 {
		return nil, "", fmt.Errorf("exec in task %s: no command", taskID)
	}
	if !t.running() {
		return nil, "", fmt.Errorf("exec in task %s: the task is not running", taskID)
	}
	if t.env == nil {
		return nil, "", fmt.Errorf("exec in task %s: the task's handle has no task config", taskID)
	}
	bin, err := lookPath(cmd[0], t.env, t.dir, t.mounts)
	if err != nil {
		return t, "", &notFoundError{err}
	}
	return t, bin, nil
}

// notFoundError is a command's program that is not found: the command
// fails with exit code 127, as in a shell.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string { return e.err.Error() }
func (e *notFoundError) Unwrap() error { return e.err }

// startInTask starts argv in the task's namespaces (all of an isolated
// task's, the mount namespace of one with volumes, the network namespace
// of one in a pod's) and cgroup, as the
// task's user in its working directory and environment, and lets it run.
func (t *task) startInTask(argv []string, stdio execStdio) (*gatedCommand, error) {
	var g *gatedCommand
	start := func() (err error) {
		g, err = startGated(argv, t.env, t.dir, t.cred, stdio)
		return err
	}
	var nss []taskNamespace
	if t.cfg.NetNSPath != "" {
		nss = append(nss, networkNamespace)
	}
	switch {
	case t.state.Isolated:
		nss = append(nss, isolatedNamespaces...)
	case len(t.mounts) > 0:
		nss = append(nss, mountNamespace...)
	}
	var err error
	if len(nss) > 0 {
		err = t.inNamespaces(nss, start)
	} else {
		err = start()
	}
	if err != nil {
		return nil, err
	}
	if t.cgroup != nil {
		err = t.cgroup.Add(g.cmd.Process.Pid)
	}
	if err == nil {
		err = g.release()
	}
	if err != nil {
		g.abort()
		return nil, err
	}
	return g, nil
}

// waitExec waits for an exec'd command, killing it and what it started
// after timeout (0: none) or when ctx ends (the caller went away).
func waitExec(ctx context.Context, g *gatedCommand, timeout time.Duration) (int, error) {
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	var err error
	select {
	case err = <-done:
	case <-timer:
		killExec(g.cmd.Process.Pid)
		<-done
		return 0, fmt.Errorf("command timed out after %s: %w", timeout, context.DeadlineExceeded)
	case <-ctx.Done():
		killExec(g.cmd.Process.Pid)
		<-done
		return 0, fmt.Errorf("command killed: %w", ctx.Err())
	}
	ps := g.cmd.ProcessState
	if ps == nil {
		return 0, fmt.Errorf("wait for command: %w", err)
	}
	var exitErr interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exitErr) {
		return 0, fmt.Errorf("wait for command: %w", err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}

// killExec kills an exec'd command (pid) and what it started that is
// still in its process group or, on a terminal, its session: an
// interactive shell puts each job in a group of its own.
func killExec(pid int) {
	_ = signalGroup(pid, syscall.SIGKILL)
	for _, p := range sessionMembers(pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// sessionMembers lists the processes whose session or process group is
// sid, from /proc.
func sessionMembers(sid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 4 || (f[2] != strconv.Itoa(sid) && f[3] != strconv.Itoa(sid)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
