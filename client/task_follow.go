package client

import (
	"maps"
	"strconv"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// followInterval is how often the task runner inspects a task whose
// driver reports details (gpu-slurm: a job that may wait in Slurm's
// queue): a change of its state or details reaches the pod's status.
const followInterval = time.Second

// applyStatus takes what the driver reports of a running task into the
// task's state: pending (the driver accepted it, it does not run yet)
// or running, and the driver's details. It reports whether the state
// changed; a driver that reports details has its task followed.
func (r *taskRunner) applyStatus(st *drivers.TaskStatus) bool {
	if st == nil || st.State == drivers.TaskStateExited {
		return false
	}
	if st.Details != nil {
		r.follow = true
	}
	state := structs.TaskStateRunning
	if st.State == drivers.TaskStatePending {
		state = structs.TaskStatePending
	}
	changed := state != r.state.State || !maps.Equal(st.Details, r.state.Details)
	if state == structs.TaskStateRunning && r.state.State == structs.TaskStatePending {
		r.state.StartedAt = time.Now().UnixNano()
	}
	r.state.State, r.state.Details = state, maps.Clone(st.Details)
	r.accepted = true
	return changed
}

// inspect asks the driver for the task's status and takes it in,
// publishing a change.
func (r *taskRunner) inspect() {
	st, err := r.driver.InspectTask(drivers.TaskID(r.pod.ID, r.task.Name))
	if err != nil {
		return
	}
	if st.PID != 0 {
		r.state.PID = st.PID
	}
	if r.applyStatus(st) {
		r.update(r.task.Name, structs.Copy(r.state))
	}
}

// followTicker ticks every followInterval for a followed task, never for
// others (nil channel); stop releases it.
func (r *taskRunner) followTicker() (<-chan time.Time, func()) {
	if !r.follow {
		return nil, func() {}
	}
	t := time.NewTicker(followInterval)
	return t.C, t.Stop
}

// taskGPUs are the indexes of the pod's GPUs that task takes: the pod's
// tasks take them in order, each as many as it asks.
func taskGPUs(p *structs.Pod, task string) []string {
	if len(p.GPUs) == 0 || p.Template == nil {
		return nil
	}
	next := 0
	for _, t := range p.Template.Tasks {
		if t == nil {
			continue
		}
		n := t.GPUs()
		if t.Name != task {
			next += n
			continue
		}
		var out []string
		for i := next; i < next+n && i < len(p.GPUs); i++ {
			out = append(out, strconv.Itoa(p.GPUs[i]))
		}
		return out
	}
	return nil
}
