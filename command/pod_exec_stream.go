package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// runStreaming is pod exec with -i or -t: the command's output is printed
// as it comes, mk's input feeds it with -i, and with -t it runs on a
// terminal that follows mk's. A signal to mk (Ctrl-C where the terminal
// is not raw) kills the command; mk exits with its exit code.
func (c *PodExecCommand) runStreaming(client *api.Client, ref string, opts *api.ExecStreamOptions, withStdin bool) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	opts.Stdout, opts.Stderr = os.Stdout, os.Stderr
	if withStdin {
		opts.Stdin = os.Stdin
	}
	restore := func() {}
	if opts.TTY {
		sizes, undo, err := startTerminal(ctx, withStdin)
		if err != nil {
			return c.fail(err)
		}
		defer undo() // however mk returns
		opts.Resize, restore = sizes, undo
	}
	code, err := client.PodExecStream(ctx, ref, opts)
	restore() // before an error is printed
	if err != nil {
		return c.fail(err)
	}
	return code
}

// startTerminal readies mk's terminal for a command on a remote one: in
// raw mode when raw is set and stdin is a terminal (so keys such as
// Ctrl-C reach the command instead of signalling mk), and its size sent
// on the channel at once and on each SIGWINCH until ctx ends (nil when
// neither stdout nor stdin is a terminal). restore undoes it all; it may
// be called more than once.
func startTerminal(ctx context.Context, raw bool) (sizes <-chan structs.TerminalSize, restore func(), err error) {
	var undo []func()
	restore = sync.OnceFunc(func() {
		for _, f := range undo {
			f()
		}
	})
	if in := int(os.Stdin.Fd()); raw && term.IsTerminal(in) {
		state, err := term.MakeRaw(in)
		if err != nil {
			return nil, nil, fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		undo = append(undo, func() { _ = term.Restore(in, state) })
	}
	fd, ok := sizedTerminal()
	if !ok {
		return nil, restore, nil
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	undo = append(undo, func() { signal.Stop(winch) })
	out := make(chan structs.TerminalSize, 1)
	out <- terminalSize(fd)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
			}
			select {
			case <-ctx.Done():
				return
			case out <- terminalSize(fd):
			}
		}
	}()
	return out, restore, nil
}

// sizedTerminal is the file descriptor of a terminal to take the size
// of: stdout's, else stdin's.
func sizedTerminal() (int, bool) {
	for _, f := range []*os.File{os.Stdout, os.Stdin} {
		if fd := int(f.Fd()); term.IsTerminal(fd) {
			return fd, true
		}
	}
	return 0, false
}

func terminalSize(fd int) structs.TerminalSize {
	cols, rows, err := term.GetSize(fd)
	if err != nil {
		return structs.TerminalSize{}
	}
	return structs.TerminalSize{Rows: uint16(rows), Cols: uint16(cols)}
}
