package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// followDeployments follows a job's rollout until every deployment
// completes or waits for its canaries' promotion (exit 0), one fails or
// is rolled back (exit 2), the deadline
// passes (0: none) or the user interrupts. On a terminal each group has a
// line that updates in place; otherwise a plain line is printed on every
// change.
func (m *Meta) followDeployments(client *api.Client, jobID string, deadline time.Duration) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var end time.Time
	if deadline > 0 {
		end = time.Now().Add(deadline)
	}
	lines := newGroupLines()
	defer lines.clear()
	var index uint64
	for {
		deps, meta, err := client.JobDeployments(jobID, &api.QueryOptions{WaitIndex: index, WaitTime: time.Second, Context: ctx})
		if ctx.Err() != nil {
			lines.clear()
			m.Ui.Error(fmt.Sprintf("the rollout of job %q goes on; mk job deployment status %s follows it", jobID, jobID))
			return exitInterrupted
		}
		if err != nil {
			lines.clear()
			return m.fail(err)
		}
		index = meta.LastIndex
		sort.Slice(deps, func(i, j int) bool { return deps[i].Group < deps[j].Group })
		texts := make([]string, len(deps))
		for i, d := range deps {
			texts[i] = formatProgress(d)
		}
		lines.update(texts)
		if code, done := rolloutOutcome(deps); done {
			lines.clear()
			for _, t := range texts {
				m.Ui.Output("==> " + t)
			}
			switch {
			case code != exitOK:
				m.Ui.Error(fmt.Sprintf("Error: rollout of job %q did not complete", jobID))
			case awaitingPromotion(deps):
				m.Ui.Output(fmt.Sprintf("==> The rollout of job %q waits for its canaries to be promoted: mk job promote %s", jobID, jobID))
			}
			return code
		}
		if !end.IsZero() && time.Now().After(end) {
			lines.clear()
			m.Ui.Error(fmt.Sprintf("Error: rollout of job %q not complete within %s", jobID, deadline))
			return exitPodsFailed
		}
	}
}

// rolloutOutcome says whether following the rollout is over and how:
// every deployment successful with its count healthy and no old pod left,
// or waiting for a person to promote its canaries, or one failed. (A
// register that changes a template resets its deployment's status, so an
// earlier rollout's success does not count.)
func rolloutOutcome(deps []*structs.DeploymentProgress) (code int, done bool) {
	if len(deps) == 0 {
		return exitOK, true
	}
	all := true
	for _, d := range deps {
		switch {
		case d.Status == structs.DeploymentStatusFailed || d.Status == structs.DeploymentStatusCancelled:
			return exitPodsFailed, true
		case d.Status == structs.DeploymentStatusPaused:
			// Nothing moves until `mk job promote`: not a failure, and
			// no reason to wait.
		case d.Status != structs.DeploymentStatusSuccessful || d.OldPods > 0 || d.Healthy < d.Desired:
			all = false
		}
	}
	return exitOK, all
}

// awaitingPromotion says whether a deployment waits for `mk job promote`.
func awaitingPromotion(deps []*structs.DeploymentProgress) bool {
	for _, d := range deps {
		if d.Status == structs.DeploymentStatusPaused {
			return true
		}
	}
	return false
}

// formatProgress is one group's rollout line.
func formatProgress(d *structs.DeploymentProgress) string {
	s := fmt.Sprintf("group %q version %d: %s, %d desired, %d placed, %d healthy, %d unhealthy",
		d.Group, d.JobVersion, d.Status, d.Desired, d.Placed, d.Healthy, d.Unhealthy)
	if d.OldPods > 0 {
		s += fmt.Sprintf(", %d old", d.OldPods)
	}
	if d.Canaries > 0 {
		s += fmt.Sprintf(", %d canaries", d.Canaries)
	}
	if d.StatusDescription != "" {
		s += " (" + d.StatusDescription + ")"
	}
	return s
}

// groupLines shows one line per group: on a terminal they are redrawn in
// place, otherwise each changed line is printed (and every quietProgress
// at least, so CI logs do not look hung).
type groupLines struct {
	pw    *progressWriter
	shown int // lines on screen (terminal)
	last  []string
	at    time.Time
}

func newGroupLines() *groupLines { return &groupLines{pw: newProgressWriter()} }

func (g *groupLines) update(lines []string) {
	if !g.pw.terminal {
		if strings.Join(lines, "\n") == strings.Join(g.last, "\n") && time.Since(g.at) < quietProgress {
			return
		}
		for _, l := range lines {
			fmt.Fprintf(g.pw.out, "    %s\n", l)
		}
		g.last, g.at = lines, time.Now()
		return
	}
	g.clear()
	for _, l := range lines {
		fmt.Fprintf(g.pw.out, "    %s\n", l)
	}
	g.shown, g.last = len(lines), lines
}

// clear erases the lines drawn on a terminal.
func (g *groupLines) clear() {
	if g.pw.terminal && g.shown > 0 {
		fmt.Fprintf(g.pw.out, "\033[%dA\033[J", g.shown)
		g.shown = 0
	}
}
