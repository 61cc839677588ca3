package client

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mk-orchestrator/mk/client/network"
	"github.com/mk-orchestrator/mk/client/state"
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// podRunner runs the tasks of one pod and derives the pod's phase from
// them. Every change is persisted locally and queued for the servers.
type podRunner struct {
	c      *Client
	pod    *structs.Pod
	dir    string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// pubMu orders publishes.
	pubMu   sync.Mutex
	mu      sync.Mutex
	tasks   map[string]*taskRunner
	states  map[string]*structs.TaskState
	stopped bool
	// stopRequested is set once the servers' stop was seen, so a pod
	// waiting out its shutdown_delay is not stopped twice.
	stopRequested atomic.Bool
	// stopDone is closed once stop has stopped every task.
	stopDone chan struct{}
	// healthTimer publishes again once the pod may have become healthy.
	healthTimer *time.Timer
	// checkSpecs are the pod's service checks, checks their latest
	// results (guarded by mu), checkWake a nudge per check.
	checkSpecs []*podCheck
	checks     []*structs.CheckStatus
	checkWake  []chan struct{}
	// net is the pod's network (bridge mode), set before its tasks start.
	net *network.PodNetwork
}

// newPodRunner builds the runner of a pod; rec is what the client
// persisted of it before a restart, nil for a new pod.
func newPodRunner(c *Client, pod *structs.Pod, rec *state.PodRecord) *podRunner {
	states := map[string]*structs.TaskState{}
	if rec != nil && rec.TaskStates != nil {
		states = rec.TaskStates
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &podRunner{c: c, pod: pod, dir: filepath.Join(c.config.DataDir, "pods", pod.ID), ctx: ctx, cancel: cancel,
		tasks: map[string]*taskRunner{}, states: states, done: make(chan struct{}), stopDone: make(chan struct{})}
	r.checkSpecs, r.checks = podChecks(pod.Template)
	if rec != nil && sameChecks(rec.Checks, r.checks) {
		r.checks = rec.Checks
	}
	for range r.checkSpecs {
		r.checkWake = append(r.checkWake, make(chan struct{}, 1))
	}
	return r
}

// run starts (or, with recover, reattaches to) every task and waits for
// them.
func (r *podRunner) run(recover bool) {
	ctx := r.ctx
	defer close(r.done)
	if err := createVolumes(r.dir, r.pod.Template.Volumes); err != nil {
		// The tasks that mount the volume fail to start, with the reason.
		r.c.logger.Error("create pod volumes", "pod", r.pod.ID, "error", err)
	}
	if err := r.createNetwork(); err != nil {
		if !recover {
			r.c.logger.Error("create pod network", "pod", r.pod.ID, "error", err)
			r.failTasks(fmt.Sprintf("pod network: %v", err))
			return
		}
		// Its tasks run (in the namespace they had): they go on.
		r.c.logger.Error("recover pod network", "pod", r.pod.ID, "error", err)
	}
	var wg sync.WaitGroup
	for _, t := range r.pod.Template.Tasks {
		tr, recovered, ok := r.taskRunnerFor(t, recover)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.run(ctx, recovered)
		}()
	}
	r.publish()
	// Checks run while the tasks do; they end with the tasks (a batch
	// pod's tasks finish, or a failed pod gives up) or when ctx ends.
	checkCtx, stopChecks := context.WithCancel(ctx)
	checksDone := make(chan struct{})
	go func() {
		defer close(checksDone)
		r.runChecks(checkCtx)
	}()
	wg.Wait()
	stopChecks()
	<-checksDone
}

// taskRunnerFor builds a task's runner; with recover it reattaches to the
// persisted handle first, and reports whether that worked.
func (r *podRunner) taskRunnerFor(t *structs.Task, recover bool) (*taskRunner, bool, bool) {
	driver, ok := r.c.driver(t.Driver)
	st := r.states[t.Name]
	if st == nil {
		st = &structs.TaskState{State: structs.TaskStatePending}
	}
	tr := &taskRunner{pod: r.pod, task: t, driver: driver, dir: filepath.Join(r.dir, t.Name), podDir: r.dir,
		restart: r.pod.Template.Restart, batch: r.c.isBatch(r.pod), logger: r.c.logger,
		persist: r.c.db.PutHandle, update: r.setTaskState, state: st, net: r.net, driverFailed: r.c.kickFingerprint}
	r.mu.Lock()
	// The runner owns st; the pod keeps copies it publishes.
	r.tasks[t.Name], r.states[t.Name] = tr, structs.Copy(st)
	r.mu.Unlock()
	if !ok {
		tr.fail("driver " + t.Driver + " is not available on this node")
		return nil, false, false
	}
	if !recover {
		return tr, false, true
	}
	if st.State == structs.TaskStateDead {
		// Finished before the restart (failed for good, or a batch task
		// that succeeded): nothing to run again.
		return nil, false, false
	}
	h, err := r.c.db.Handle(drivers.TaskID(r.pod.ID, t.Name))
	if err == nil && h != nil && driver.RecoverTask(h) == nil {
		return tr, true, true
	}
	if st.State == structs.TaskStateRunning {
		// It died while the client was down: the restart policy decides.
		tr.lostOnRecover = true
	}
	return tr, false, true
}

func (r *podRunner) setTaskState(name string, st *structs.TaskState) {
	r.mu.Lock()
	r.states[name] = st
	r.mu.Unlock()
	if st.State == structs.TaskStateRunning {
		r.wakeChecks()
	}
	r.publish()
}

// phase derives the pod's phase from its tasks.
func (r *podRunner) phase() string {
	if len(r.states) < len(r.pod.Template.Tasks) {
		return structs.PodPhasePending
	}
	running, succeeded := 0, 0
	for _, st := range r.states {
		switch {
		case st.Failed:
			return structs.PodPhaseFailed
		case st.State == structs.TaskStateRunning, st.State == structs.TaskStateRestarting:
			// A task waiting out its restart delay keeps the pod running,
			// as Kubernetes counts a container in back-off.
			running++
		case st.State == structs.TaskStateDead && st.ExitCode == 0 && st.Signal == 0:
			succeeded++
		}
	}
	switch {
	case running == len(r.states):
		return structs.PodPhaseRunning
	case succeeded == len(r.states):
		return structs.PodPhaseSucceeded
	case r.stopped && running == 0:
		return structs.PodPhaseFailed
	case running > 0:
		return structs.PodPhaseRunning
	}
	return structs.PodPhasePending
}

// publish persists the pod's state and queues a report for the servers.
// Publishes are serialized: two computed concurrently could otherwise be
// queued in the wrong order, and an older state would win.
func (r *podRunner) publish() {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.mu.Lock()
	states := structs.Copy(r.states)
	checks := structs.Copy(r.checks)
	ip := ""
	if r.net != nil {
		ip = r.net.IP.String()
	}
	phase := r.phase()
	healthy := r.healthLocked()
	r.mu.Unlock()
	if err := r.c.db.PutPod(&state.PodRecord{Pod: r.pod, TaskStates: states, Checks: checks}); err != nil {
		r.c.logger.Error("persist pod", "pod", r.pod.ID, "error", err)
	}
	r.c.status.queue(&structs.PodStatusUpdate{Namespace: r.pod.Namespace, PodID: r.pod.ID, Phase: phase, IP: ip, TaskStates: states, Healthy: healthy, Checks: checks})
}

// healthLocked returns the pod's health (its tasks have run for
// min_healthy_time and its checks pass) and, while it waits out
// min_healthy_time, arms a timer that publishes again when it is up.
func (r *podRunner) healthLocked() bool {
	if r.healthTimer != nil {
		r.healthTimer.Stop()
		r.healthTimer = nil
	}
	if r.stopped {
		return false
	}
	healthy, recheck := podHealth(r.pod.Template.Tasks, r.states, minHealthyTime(r.pod.Template), time.Now())
	if recheck > 0 {
		r.healthTimer = time.AfterFunc(recheck, r.publish)
	}
	// A check that stops passing publishes the pod (setCheck), so no
	// timer waits on checks.
	return healthy && structs.ChecksPassing(r.checks)
}

// detach ends the runner's goroutines and leaves its tasks running.
func (r *podRunner) detach() {
	r.cancel()
	<-r.done
	r.mu.Lock()
	if r.healthTimer != nil {
		r.healthTimer.Stop()
	}
	r.mu.Unlock()
}

// stop stops every task (the driver frees their cgroups) and waits for
// the runner to end; a second call waits for the first.
func (r *podRunner) stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		<-r.stopDone
		return
	}
	r.stopped = true
	r.mu.Unlock()
	defer close(r.stopDone)
	// End the task runners first, so only this goroutine touches the
	// tasks' states from here on, and every task that was started is in
	// r.tasks.
	r.cancel()
	<-r.done
	r.mu.Lock()
	tasks := make([]*taskRunner, 0, len(r.tasks))
	for _, t := range r.tasks {
		tasks = append(tasks, t)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range tasks {
		if t.driver == nil {
			continue
		}
		wg.Add(1)
		go func(t *taskRunner) {
			defer wg.Done()
			t.stop()
		}(t)
	}
	wg.Wait()
	r.c.destroyNetwork(r.pod)
	r.publish()
}

// failTasks fails every task of a pod that cannot start, with the reason.
func (r *podRunner) failTasks(reason string) {
	for _, t := range r.pod.Template.Tasks {
		if tr, _, ok := r.taskRunnerFor(t, false); ok {
			tr.fail(reason)
		}
	}
}
