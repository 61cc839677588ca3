package client

import (
	"context"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// podCheck is one service check of a pod as the client runs it.
type podCheck struct {
	// index is the check's place in the pod's Checks.
	index int
	spec  *structs.ServiceCheck
	// portLabel is the port an http or tcp check probes: its own, else
	// its service's.
	portLabel string
	// task is the task an exec check runs in.
	task              string
	interval, timeout time.Duration
}

// podChecks lists the checks of a pod's services with their initial
// (pending) statuses. Validation made sure the durations parse.
func podChecks(g *structs.TaskGroup) ([]*podCheck, []*structs.CheckStatus) {
	var checks []*podCheck
	var statuses []*structs.CheckStatus
	for _, svc := range g.Services {
		for i, c := range svc.Checks {
			pc := &podCheck{index: len(checks), spec: c, portLabel: firstNonEmpty(c.Port, svc.Port), task: c.Task}
			pc.interval, _ = structs.ParseDuration(c.Interval)
			pc.timeout, _ = structs.ParseDuration(c.Timeout)
			if pc.interval <= 0 {
				pc.interval, _ = structs.ParseDuration(structs.DefaultCheckInterval)
			}
			if pc.timeout <= 0 {
				pc.timeout, _ = structs.ParseDuration(structs.DefaultCheckTimeout)
			}
			if pc.task == "" && len(g.Tasks) > 0 {
				pc.task = g.Tasks[0].Name
			}
			checks = append(checks, pc)
			statuses = append(statuses, &structs.CheckStatus{Name: structs.CheckName(svc, i), Service: svc.Name, Status: structs.CheckPending})
		}
	}
	return checks, statuses
}

// runChecks runs each of the pod's checks every interval until ctx ends,
// and at once whenever a task of the pod starts (r.checkWake), so a pod
// is not held back a whole interval after its tasks come up.
func (r *podRunner) runChecks(ctx context.Context) {
	var wg sync.WaitGroup
	for _, pc := range r.checkSpecs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runCheck(ctx, pc)
		}()
	}
	wg.Wait()
}

func (r *podRunner) runCheck(ctx context.Context, pc *podCheck) {
	wake := r.checkWake[pc.index]
	timer := time.NewTimer(0)
	defer timer.Stop()
	pace := checkPacer{interval: pc.interval}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-wake:
			if !timer.Stop() {
				<-timer.C
			}
			pace.restart()
		}
		status, output := structs.CheckPending, "waiting for the pod's tasks to run"
		if r.tasksRunning() {
			status, output = r.c.probe(ctx, r.pod, r.podIP(), pc)
		}
		if ctx.Err() != nil {
			return
		}
		r.setCheck(pc.index, status, output)
		timer.Reset(pace.next(status))
	}
}

// checkFirstRetry is the first wait before a check that has not passed
// since its pod's tasks started runs again.
const checkFirstRetry = 50 * time.Millisecond

// checkPacer says when a check runs next. Until it first passes after
// the pod's tasks (re)start, a failing check is retried after 50 ms,
// then twice as long each time up to its interval: a server that takes
// a moment to listen makes its pod ready soon after it does, not one
// interval after its task started (the first check runs at once and
// usually finds nothing listening yet). Once it passed, it runs every
// interval, so a failing check still removes the pod within one
// interval.
type checkPacer struct {
	interval time.Duration
	retry    time.Duration
	passed   bool
}

// next is the wait after a run that gave status.
func (p *checkPacer) next(status string) time.Duration {
	switch {
	case status == structs.CheckPassing:
		p.passed = true
		return p.interval
	case p.passed || status == structs.CheckPending:
		// Pending: the tasks are not running; their start wakes the check.
		return p.interval
	}
	if p.retry == 0 {
		p.retry = checkFirstRetry
	} else {
		p.retry *= 2
	}
	return min(p.retry, p.interval)
}

// restart: the pod's tasks (re)started; retry fast until it passes again.
func (p *checkPacer) restart() { p.passed, p.retry = false, 0 }

// wakeChecks runs every check again now (a task started).
func (r *podRunner) wakeChecks() {
	for _, w := range r.checkWake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// tasksRunning reports whether every task of the pod runs.
func (r *podRunner) tasksRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.pod.Template.Tasks {
		if st := r.states[t.Name]; st == nil || st.State != structs.TaskStateRunning {
			return false
		}
	}
	return true
}

// setCheck records a check's result and publishes the pod when it
// changed.
func (r *podRunner) setCheck(i int, status, output string) {
	r.mu.Lock()
	cur := r.checks[i]
	if cur.Status == status && cur.Output == output {
		r.mu.Unlock()
		return
	}
	next := *cur
	next.Status, next.Output, next.Time = status, output, time.Now().UnixNano()
	r.checks[i] = &next
	r.mu.Unlock()
	if status != cur.Status {
		r.c.logger.Info("check status changed", "pod", r.pod.ID, "check", next.Name, "status", status, "output", output)
	}
	r.publish()
}

// sameChecks reports whether persisted check results are of the checks a
// runner has: the same names in the same order.
func sameChecks(prev, cur []*structs.CheckStatus) bool {
	if len(prev) != len(cur) {
		return false
	}
	for i := range prev {
		if prev[i] == nil || prev[i].Name != cur[i].Name {
			return false
		}
	}
	return true
}
