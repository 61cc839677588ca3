package command

import (
	"fmt"
	"os"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// Exit code of job run when its pods fail or cannot be placed.
const exitPodsFailed = 2

// pendingGrace is how long a pod may stay unplaceable before job run gives
// up on it (the servers keep trying; only the command stops waiting).
const pendingGrace = 3 * time.Second

// monitorJob follows a job's pods after a run until they all run (batch:
// succeed), some fail, or some cannot be placed; it returns the exit code.
// Progress goes to stderr when it is a terminal; the last line to stdout.
func (m *Meta) monitorJob(client *api.Client, job *structs.Job, sinceIndex uint64, timeout time.Duration) int {
	expected := 0
	for _, g := range job.Groups {
		expected += g.Count
	}
	deadline := time.Now().Add(timeout)
	var index uint64
	var pendingSince time.Time
	last := ""
	for time.Now().Before(deadline) {
		pods, meta, err := client.Pods(job.ID, &api.QueryOptions{WaitIndex: index, WaitTime: time.Second})
		if err != nil {
			return m.fail(err)
		}
		index = meta.LastIndex
		s := summarize(job, pods, sinceIndex)
		if line := s.progress(expected); line != last && isTerminal(os.Stderr) {
			fmt.Fprintln(os.Stderr, "    "+line)
			last = line
		}
		switch {
		case s.failed != nil:
			m.Ui.Error(fmt.Sprintf("Error: pod %s failed: %s", s.failed.Name, failureReason(s.failed)))
			return exitPodsFailed
		case s.pendingReason != "":
			if pendingSince.IsZero() {
				pendingSince = time.Now()
			} else if time.Since(pendingSince) > pendingGrace {
				m.Ui.Error("Error: pods cannot be placed: " + s.pendingReason)
				return exitPodsFailed
			}
		default:
			pendingSince = time.Time{}
		}
		if s.done(job, expected) {
			m.Ui.Output("==> " + s.progress(expected))
			return exitOK
		}
	}
	m.Ui.Error(fmt.Sprintf("Error: pods of job %q not running after %s", job.ID, timeout))
	return exitPodsFailed
}

type podSummary struct {
	live, running, succeeded int
	failed                   *structs.Pod
	pendingReason            string
	batch                    bool
}

func summarize(job *structs.Job, pods []*structs.Pod, sinceIndex uint64) podSummary {
	s := podSummary{batch: job.Type == structs.JobTypeBatch}
	for _, p := range pods {
		if p.Phase == structs.PodPhaseSucceeded {
			s.succeeded++
			continue
		}
		if p.Phase == structs.PodPhaseFailed && p.CreateIndex >= sinceIndex && p.DesiredReason == "" {
			s.failed = p
		}
		if p.DesiredStatus != structs.PodDesiredRun || p.Terminal() {
			continue
		}
		s.live++
		if p.Phase == structs.PodPhaseRunning {
			s.running++
		}
		if p.PendingReason != "" {
			s.pendingReason = p.PendingReason
		}
	}
	return s
}

func (s podSummary) done(job *structs.Job, expected int) bool {
	switch job.Type {
	case structs.JobTypeBatch:
		return s.succeeded >= expected
	case structs.JobTypeSystem:
		return s.live > 0 && s.running == s.live
	}
	return s.live == expected && s.running == expected
}

func (s podSummary) progress(expected int) string {
	if s.batch {
		return fmt.Sprintf("%d/%d pods succeeded", s.succeeded, expected)
	}
	if expected == 0 || s.live > expected {
		expected = s.live
	}
	return fmt.Sprintf("%d/%d pods running", s.running, expected)
}

func failureReason(p *structs.Pod) string {
	for name, ts := range p.TaskStates {
		if len(ts.Events) > 0 {
			e := ts.Events[len(ts.Events)-1]
			return fmt.Sprintf("task %q: %s %s", name, e.Type, e.Message)
		}
	}
	return p.Phase
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
