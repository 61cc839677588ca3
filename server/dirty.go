package server

import "sync"

// dirtySet collects what the leader's own endpoints changed since the last
// controller pass: jobs registered or stopped, and pods stopped by users.
// Incremental passes reconcile only those jobs (and the jobs whose pods a
// client reported on, which they read from the state store). It is a hint,
// not the truth: full passes, at every leadership start and every
// ReconcileInterval, recompute everything from the state, so a hint lost
// with a leader costs a delay, never a wrong result. Keeping it in memory
// rather than as a "modified" index in the store saves every server an
// index entry per job and per pod written.
type dirtySet struct {
	mu   sync.Mutex
	jobs map[string]bool // namespace/job ID
	// room: a pod was stopped, so pending pods may now fit.
	room bool
}

// markJob records that a job's state changed.
func (d *dirtySet) markJob(namespace, jobID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jobs == nil {
		d.jobs = map[string]bool{}
	}
	d.jobs[key(namespace, jobID)] = true
}

// markRoom records that room for pods may have changed.
func (d *dirtySet) markRoom() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.room = true
}

// take returns what was marked and starts a new set.
func (d *dirtySet) take() (jobs map[string]bool, room bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	jobs, room = d.jobs, d.room
	d.jobs, d.room = nil, false
	if jobs == nil {
		jobs = map[string]bool{}
	}
	return jobs, room
}

// restore puts back what a failed pass took, so the next one sees it.
func (d *dirtySet) restore(jobs map[string]bool, room bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jobs == nil {
		d.jobs = map[string]bool{}
	}
	for k := range jobs {
		d.jobs[k] = true
	}
	d.room = d.room || room
}
