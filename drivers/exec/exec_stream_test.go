package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/testutil"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// startSleeper starts a task that sleeps, to exec in.
func startSleeper(t *testing.T, d *Driver) string {
	t.Helper()
	cfg := testConfig(t, "/bin/sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.ID
}

// TestExecStreamingStdinAndExitCode: input reaches the command, stdout and
// stderr stay apart, the exit code is the command's, and a command that
// is not found exits 127.
func TestExecStreamingStdinAndExitCode(t *testing.T) {
	d := newTestDriver(t)
	id := startSleeper(t, d)
	var stdout, stderr syncbuf.Buffer
	code, err := d.ExecTaskStreaming(context.Background(), id, &drivers.ExecStreamOptions{
		Command: []string{"sh", "-c", `read x; echo got $x; echo err $MK_POD_NAME$GREETING >&2; exit 7`},
		Stdin:   strings.NewReader("hello\n"), Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 || stdout.String() != "got hello\n" || stderr.String() != "err hello\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	var out syncbuf.Buffer
	code, err = d.ExecTaskStreaming(context.Background(), id, &drivers.ExecStreamOptions{
		Command: []string{"no-such-program"}, Stdout: &out, Stderr: &out})
	if err != nil || code != 127 || !strings.Contains(out.String(), "no-such-program") {
		t.Fatalf("a missing program: exit %d, %v, output %q", code, err, out.String())
	}
}

// TestExecStreamingTTY: with TTY the command's input and output are a
// pseudo-terminal of the given size, and output streams while it runs.
func TestExecStreamingTTY(t *testing.T) {
	d := newTestDriver(t)
	id := startSleeper(t, d)
	var out syncbuf.Buffer
	resize := make(chan drivers.TerminalSize, 1)
	resize <- drivers.TerminalSize{Rows: 42, Cols: 101}
	stdinR, stdinW := ioPipe()
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, err = d.ExecTaskStreaming(context.Background(), id, &drivers.ExecStreamOptions{
			Command: []string{"sh", "-c", `tty; echo ready; read x; stty size; echo got $x; exit 3`},
			TTY:     true, Stdin: stdinR, Stdout: &out, Resize: resize,
		})
		done <- err
	}()
	// The prompt comes before the command has its input: streamed.
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return strings.Contains(out.String(), "ready"), fmt.Errorf("no output yet: %q", out.String())
	})
	if _, err := stdinW.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if code != 3 || !regexp.MustCompile(`(?m)^/dev/pts/\d+$`).MatchString(got) ||
		!strings.Contains(got, "42 101\n") || !strings.Contains(got, "got line\n") {
		t.Fatalf("exit %d, output %q", code, got)
	}
}

// TestExecStreamingKilledOnCancel: when ctx ends the command and what it
// started die, also in their own process groups on a terminal.
func TestExecStreamingKilledOnCancel(t *testing.T) {
	d := newTestDriver(t)
	id := startSleeper(t, d)
	for _, tty := range []bool{false, true} {
		marker := fmt.Sprintf("sleep 71.%d", len(fmt.Sprint(tty)))
		ctx, cancel := context.WithCancel(context.Background())
		var out syncbuf.Buffer
		done := make(chan error, 1)
		go func() {
			_, err := d.ExecTaskStreaming(ctx, id, &drivers.ExecStreamOptions{
				// set -m: the background sleep gets a process group of
				// its own, as an interactive shell's jobs do.
				Command: []string{"sh", "-c", `set -m; ` + marker + ` & echo started; wait`},
				TTY:     tty, Stdout: &out, Stderr: &out,
			})
			done <- err
		}()
		running := func() []int {
			var pids []int
			for _, p := range testutil.Procs() {
				if strings.HasSuffix(p.Cmdline, marker) {
					pids = append(pids, p.PID)
				}
			}
			return pids
		}
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			return len(running()) == 1 && strings.Contains(out.String(), "started"), fmt.Errorf("tty %v: %q is not running", tty, marker)
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("tty %v: exec whose ctx ended: %v, want context.Canceled", tty, err)
		}
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			return len(running()) == 0, fmt.Errorf("tty %v: %q still runs (pids %v)", tty, marker, running())
		})
	}
}

// ioPipe is an in-memory pipe for a command's input.
func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }
