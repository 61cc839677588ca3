package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// Exit codes of job run beyond 0 and 1.
const (
	// exitPodsFailed: pods failed, cannot be placed, or were not healthy
	// in time.
	exitPodsFailed = 2
	// exitInterrupted: Ctrl-C stopped the watch (the job keeps running).
	exitInterrupted = 130
)

// pendingGrace is how long a pod may stay unplaceable before job run gives
// up on it (the servers keep trying; only the command stops waiting).
const pendingGrace = 3 * time.Second

// quietProgress is the longest a watch whose output is not a terminal
// stays silent: CI logs must not look hung.
const quietProgress = 10 * time.Second

// progressWriter shows a watch's progress: on a terminal one line that
// updates in place, otherwise a plain line on every change and at least
// every quietProgress.
type progressWriter struct {
	out      io.Writer
	terminal bool
	last     string
	lastAt   time.Time
	shown    bool // a terminal line is on screen
}

func newProgressWriter() *progressWriter {
	if isTerminal(os.Stderr) {
		return &progressWriter{out: os.Stderr, terminal: true}
	}
	return &progressWriter{out: os.Stdout}
}

// update shows line if it changed (or, off a terminal, when it is due).
func (p *progressWriter) update(line string, now time.Time) {
	if line == p.last && (p.terminal || now.Sub(p.lastAt) < quietProgress) {
		return
	}
	p.last, p.lastAt = line, now
	if p.terminal {
		fmt.Fprintf(p.out, "\r\033[K    %s", line)
		p.shown = true
		return
	}
	fmt.Fprintf(p.out, "    %s\n", line)
}

// clear removes the terminal line before other output.
func (p *progressWriter) clear() {
	if p.shown {
		fmt.Fprint(p.out, "\r\033[K")
		p.shown = false
		p.last = ""
	}
}

// monitorJob follows a job's pods after a run until every group is
// healthy (batch: succeeded), a pod fails for good, pods cannot be
// placed, the deadline passes (0: none) or the user interrupts; it
// returns the exit code. Restarts and failures are printed as they
// happen.
func (m *Meta) monitorJob(client *api.Client, job *structs.Job, version, sinceIndex uint64, deadline time.Duration) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w := newJobWatch(job, version, sinceIndex, time.Now())
	pw := newProgressWriter()
	defer pw.clear()
	var end time.Time
	if deadline > 0 {
		end = time.Now().Add(deadline)
	}
	var index uint64
	var pendingSince time.Time
	for {
		pods, meta, err := client.Pods(job.ID, &api.QueryOptions{WaitIndex: index, WaitTime: time.Second, Context: ctx})
		if ctx.Err() != nil {
			pw.clear()
			m.Ui.Error(fmt.Sprintf("job %q keeps running; mk job status %s / mk job stop %s", job.ID, job.ID, job.ID))
			return exitInterrupted
		}
		if err != nil {
			pw.clear()
			return m.fail(err)
		}
		index = meta.LastIndex
		res := w.observe(pods)
		if len(res.events) > 0 {
			pw.clear()
			for _, e := range res.events {
				m.Ui.Output("    " + e)
			}
		}
		pw.update(w.progress(res), time.Now())
		switch reason := res.pendingReason(); {
		case res.failed != nil:
			pw.clear()
			m.Ui.Error(fmt.Sprintf("Error: pod %s failed: %s", res.failed.Name, firstNonEmpty(res.failed.Reason(), res.failed.Phase)))
			return exitPodsFailed
		case reason == "":
			pendingSince = time.Time{}
		case pendingSince.IsZero():
			pendingSince = time.Now()
		case time.Since(pendingSince) > pendingGrace:
			pw.clear()
			m.Ui.Error("Error: pods cannot be placed: " + reason)
			return exitPodsFailed
		}
		if w.done(res) {
			pw.clear()
			m.Ui.Output("==> " + w.progress(res))
			return exitOK
		}
		if !end.IsZero() && time.Now().After(end) {
			pw.clear()
			m.Ui.Error(fmt.Sprintf("Error: job %q not healthy within %s: %s", job.ID, deadline, w.progress(res)))
			return exitPodsFailed
		}
	}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
