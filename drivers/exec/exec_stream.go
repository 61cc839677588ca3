package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"

	"github.com/mk-orchestrator/mk/drivers"
)

var _ drivers.StreamingExecer = (*Driver)(nil)

// terminalDrain is how long a command's terminal output is read after the
// command exited, while something it started still holds the terminal.
const terminalDrain = 2 * time.Second

// ExecTaskStreaming runs a command in the task as ExecTask does (the
// task's namespaces, cgroup, user, directory and environment), with its
// input and output streamed, on a new pseudo-terminal with opts.TTY. The
// command has no timeout: it runs until it exits or ctx ends, which kills
// it and what it started.
func (d *Driver) ExecTaskStreaming(ctx context.Context, taskID string, opts *drivers.ExecStreamOptions) (int, error) {
	t, bin, err := d.execTarget(taskID, opts.Command)
	if nf := (*notFoundError)(nil); errors.As(err, &nf) {
		w := opts.Stderr
		if opts.TTY || w == nil {
			w = opts.Stdout
		}
		if w != nil {
			_, _ = fmt.Fprintln(w, nf.Error())
		}
		return 127, nil
	}
	if err != nil {
		return 0, err
	}
	argv := append([]string{bin}, opts.Command[1:]...)
	var code int
	if opts.TTY {
		code, err = t.execOnTerminal(ctx, argv, opts)
	} else {
		code, err = t.execPiped(ctx, argv, opts)
	}
	if err != nil {
		return 0, fmt.Errorf("exec in task %s: %w", taskID, err)
	}
	return code, nil
}

// execPiped runs argv with pipes for its input and output.
func (t *task) execPiped(ctx context.Context, argv []string, opts *drivers.ExecStreamOptions) (int, error) {
	var mu sync.Mutex
	stdio := execStdio{out: lockedWriter(&mu, opts.Stdout), errOut: lockedWriter(&mu, opts.Stderr)}
	var stdin *os.File
	if opts.Stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, fmt.Errorf("stdin pipe: %w", err)
		}
		defer r.Close()
		stdio.in, stdin = r, w
	}
	g, err := t.startInTask(argv, stdio)
	if err != nil {
		if stdin != nil {
			stdin.Close()
		}
		return 0, err
	}
	if stdin != nil {
		go copyAndClose(stdin, opts.Stdin)
	}
	return waitExec(ctx, g, 0)
}

// execOnTerminal runs argv on a new pseudo-terminal, copying opts.Stdin to
// it and its output to opts.Stdout, resizing it as opts.Resize says.
func (t *task) execOnTerminal(ctx context.Context, argv []string, opts *drivers.ExecStreamOptions) (int, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return 0, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer ptmx.Close()
	g, err := t.startInTask(argv, execStdio{tty: tty})
	tty.Close()
	if err != nil {
		return 0, err
	}
	// The resizer must be gone before ptmx closes (the deferred Close
	// runs after this): pty.Setsize reads the file's descriptor unlocked.
	done, resized := make(chan struct{}), make(chan struct{})
	defer func() {
		close(done)
		<-resized
	}()
	go func() {
		defer close(resized)
		resizeTerminal(ptmx, opts.Resize, done)
	}()
	if opts.Stdin != nil {
		go func() { _, _ = io.Copy(ptmx, opts.Stdin) }()
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		out := opts.Stdout
		if out == nil {
			out = io.Discard
		}
		// Ends (EIO) once no process holds the terminal any more.
		_, _ = io.Copy(out, ptmx)
	}()
	code, err := waitExec(ctx, g, 0)
	select {
	case <-copied:
	case <-time.After(terminalDrain):
		// What it started still holds the terminal: it goes too.
		killExec(g.cmd.Process.Pid)
		select {
		case <-copied:
		case <-time.After(terminalDrain):
		}
	}
	return code, err
}

// resizeTerminal applies the sizes sent on sizes until done is closed.
func resizeTerminal(ptmx *os.File, sizes <-chan drivers.TerminalSize, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case sz, ok := <-sizes:
			if !ok {
				return
			}
			_ = pty.Setsize(ptmx, &pty.Winsize{Rows: sz.Rows, Cols: sz.Cols})
		}
	}
}

// copyAndClose copies r to w, then closes w: the command sees its input
// end.
func copyAndClose(w *os.File, r io.Reader) {
	_, _ = io.Copy(w, r)
	w.Close()
}

// lockedWriter serialises writes to w under mu; a nil w discards.
func lockedWriter(mu *sync.Mutex, w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return w.Write(p)
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
