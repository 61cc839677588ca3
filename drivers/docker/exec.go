package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/drivers"
)

// ExecTask runs cmd in the task's container (an Engine exec: the
// container's namespaces, environment and cgroup) and returns its output
// and exit code. When timeout passes or ctx ends the command is killed.
func (d *Driver) ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	code, err := d.ExecTaskStreaming(ctx, taskID, &drivers.ExecStreamOptions{Command: cmd, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, err
	}
	return &drivers.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// ExecTaskStreaming runs opts.Command in the task's container with its
// input and output streamed, on a terminal when opts.TTY. The Engine has
// no call to end an exec: when ctx ends the driver kills the command's
// process from the host.
func (d *Driver) ExecTaskStreaming(ctx context.Context, taskID string, opts *drivers.ExecStreamOptions) (int, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return 0, err
	}
	if len(opts.Command) == 0 {
		return 0, fmt.Errorf("exec in task %s: no command", taskID)
	}
	create, err := d.docker.ContainerExecCreate(ctx, t.containerID, container.ExecOptions{
		Cmd: opts.Command, Tty: opts.TTY, AttachStdin: opts.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, execErr(ctx, taskID, fmt.Errorf("create exec: %w", err))
	}
	att, err := d.docker.ContainerExecAttach(ctx, create.ID, container.ExecAttachOptions{Tty: opts.TTY})
	if err != nil {
		return 0, execErr(ctx, taskID, fmt.Errorf("attach exec: %w", err))
	}
	defer att.Close()
	stopKill := context.AfterFunc(ctx, func() { d.killExec(create.ID) })
	defer stopKill()
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	}
	if opts.TTY && opts.Resize != nil {
		go d.resizeExec(ctx, create.ID, opts.Resize)
	}
	head := &headWriter{w: writerOrDiscard(opts.Stdout)}
	if opts.TTY {
		_, err = io.Copy(head, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(head, writerOrDiscard(opts.Stderr), att.Reader)
	}
	if ctx.Err() != nil {
		return 0, execErr(ctx, taskID, ctx.Err())
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, execErr(ctx, taskID, fmt.Errorf("exec output: %w", err))
	}
	code, err := d.execExitCode(ctx, create.ID)
	if code == 126 && notFound(head.head) {
		code = 127 // as a shell says it: command not found
	}
	return code, err
}

// headWriter passes writes on and keeps the first bytes written.
type headWriter struct {
	w    io.Writer
	head []byte
}

func (h *headWriter) Write(b []byte) (int, error) {
	if n := min(len(b), 512-len(h.head)); n > 0 {
		h.head = append(h.head, b[:n]...)
	}
	return h.w.Write(b)
}

// notFound reports whether an exec's output is the runtime's message for
// a command that does not exist (the Engine exits it 126).
func notFound(out []byte) bool {
	s := string(out)
	return strings.HasPrefix(s, "OCI runtime exec failed") &&
		(strings.Contains(s, "no such file or directory") || strings.Contains(s, "executable file not found"))
}

// execExitCode reads the exit code once the Engine has it (the output
// ends a moment before the exec is marked done).
func (d *Driver) execExitCode(ctx context.Context, execID string) (int, error) {
	for {
		info, err := d.docker.ContainerExecInspect(ctx, execID)
		if err != nil {
			return 0, fmt.Errorf("inspect exec: %w", err)
		}
		if !info.Running {
			return info.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// killExec kills an exec's process (and the process group it leads).
func (d *Driver) killExec(execID string) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	info, err := d.docker.ContainerExecInspect(ctx, execID)
	if err != nil || !info.Running || info.Pid <= 0 {
		return
	}
	_ = unix.Kill(info.Pid, unix.SIGKILL)
}

func (d *Driver) resizeExec(ctx context.Context, execID string, sizes <-chan drivers.TerminalSize) {
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-sizes:
			if !ok {
				return
			}
			_ = d.docker.ContainerExecResize(ctx, execID, container.ResizeOptions{Height: uint(s.Rows), Width: uint(s.Cols)})
		}
	}
}

func execErr(ctx context.Context, taskID string, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return fmt.Errorf("exec in task %s: %w", taskID, err)
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
