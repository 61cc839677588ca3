package structs

import (
	"fmt"
	"sort"
)

// Reason is the pod's state in one line: why it waits, why it stopped, or
// the last meaningful event of a task that is not running as it should
// ("exit code 1, restarting in 15s", "driver failure: …"), or a check of
// a running pod that fails. It is "" for a
// pod whose tasks run (or succeeded) with nothing to report.
func (p *Pod) Reason() string {
	if p.PendingReason != "" {
		return p.PendingReason
	}
	if p.DesiredStatus == PodDesiredStop && p.DesiredReason != "" && !p.failedOnItsOwn() {
		return p.DesiredReason
	}
	names := make([]string, 0, len(p.TaskStates))
	for name := range p.TaskStates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if r := p.TaskStates[name].Reason(); r != "" {
			if len(names) > 1 {
				return fmt.Sprintf("task %q: %s", name, r)
			}
			return r
		}
	}
	if c := p.FailingCheck(); c != nil && p.Phase == PodPhaseRunning {
		return c.Describe()
	}
	return p.DesiredReason
}

// failedOnItsOwn reports whether a task failed for good before the
// servers stopped the pod: the failure says more than the stop.
func (p *Pod) failedOnItsOwn() bool {
	for _, ts := range p.TaskStates {
		if ts.Failed {
			return true
		}
	}
	return false
}

// Reason is the task's state in one line when it is not simply running or
// done: restarting, failed for good, failed to start, or waiting in its
// driver with a reason.
func (ts *TaskState) Reason() string {
	last := ts.lastEvent()
	switch {
	case ts.State == TaskStateRestarting:
		return joinReason(ts.lastExit(), ts.lastOf(TaskEventRestarting))
	case ts.Failed && last != nil && last.Type == TaskEventDriverErr:
		return "driver failure: " + last.Message
	case ts.Failed:
		return joinReason(ts.lastExit(), "restart attempts exhausted")
	case ts.State == TaskStateDead && (ts.ExitCode != 0 || ts.Signal != 0):
		return ts.lastExit()
	case ts.State == TaskStatePending && ts.Details["reason"] != "":
		// Accepted by its driver, waiting there (a Slurm job in the
		// queue): the driver's reason.
		return "waiting: " + ts.Details["reason"]
	}
	return ""
}

// ExitedOnce reports whether the task ever ran and exited, so its exit
// code means something (a task that failed to start has none).
func (ts *TaskState) ExitedOnce() bool {
	if ts.FinishedAt != 0 {
		return true
	}
	for _, e := range ts.Events {
		if e.Type == TaskEventTerminated {
			return true
		}
	}
	return false
}

func (ts *TaskState) lastEvent() *TaskEvent {
	if len(ts.Events) == 0 {
		return nil
	}
	return ts.Events[len(ts.Events)-1]
}

// lastOf returns the message of the latest event of a type.
func (ts *TaskState) lastOf(typ string) string {
	for i := len(ts.Events) - 1; i >= 0; i-- {
		if ts.Events[i].Type == typ {
			return ts.Events[i].Describe()
		}
	}
	return ""
}

// lastExit describes the task's latest exit.
func (ts *TaskState) lastExit() string { return ts.lastOf(TaskEventTerminated) }

// Describe is the event's message with the task's last stderr line, if
// any: "exit code 1 (bind: Address already in use)".
func (e *TaskEvent) Describe() string {
	if e.Output == "" {
		return e.Message
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Output)
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ", " + b
}
