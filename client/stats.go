package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// statsInterval is how long PodStats measures CPU use: its sample is the
// first one a driver sends.
const statsInterval = 100 * time.Millisecond

// statsGrace bounds how long after statsInterval a driver may take to send
// its first sample.
const statsGrace = 5 * time.Second

// PodStats takes one sample of the resource use of each running task of a
// pod this client runs, next to the task's limits from the job. Tasks that
// do not run are listed with their state and no usage. A pod without a
// running task is a conflict (structs.ErrConflict); a pod this client
// never ran is not found.
func (c *Client) PodStats(ctx context.Context, podID string) (*structs.PodStats, error) {
	r, err := c.runner(podID)
	if err != nil {
		return nil, err
	}
	out := &structs.PodStats{PodID: r.pod.ID, NodeID: c.nodeID, Timestamp: time.Now().UnixNano(),
		Tasks: make(map[string]*structs.TaskStats, len(r.pod.Template.Tasks))}
	mhzPerCore := float64(drivers.CoreMHz())
	var wg sync.WaitGroup
	errs := make([]error, len(r.pod.Template.Tasks))
	running := 0
	for i, t := range r.pod.Template.Tasks {
		tr, state := r.task(t.Name)
		ts := &structs.TaskStats{State: firstNonEmpty(state, structs.TaskStatePending), Limits: structs.Copy(t.Resources)}
		out.Tasks[t.Name] = ts
		if state != structs.TaskStateRunning || tr == nil || tr.driver == nil {
			continue
		}
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts.Usage, errs[i] = sampleTask(ctx, tr.driver, drivers.TaskID(r.pod.ID, t.Name), mhzPerCore)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("stats of task %q of pod %s: %w", t.Name, r.pod.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	if running == 0 {
		return nil, structs.NewConflict("pod %s has no running task", r.pod.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// sampleTask returns a task's first stats sample, or nil when the task
// exits before the driver sends one.
func sampleTask(ctx context.Context, d drivers.Driver, taskID string, mhzPerCore float64) (*structs.ResourceUsage, error) {
	ctx, cancel := context.WithTimeout(ctx, statsInterval+statsGrace)
	defer cancel()
	ch, err := d.TaskStats(ctx, taskID, statsInterval)
	if errors.Is(err, drivers.ErrTaskNotFound) {
		return nil, nil // it exited and was released meanwhile
	}
	if err != nil {
		return nil, err
	}
	u, ok := <-ch
	if !ok || u == nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("no sample within %s: %w", statsInterval+statsGrace, err)
		}
		return nil, nil // it exited
	}
	return &structs.ResourceUsage{
		CPUPercent: u.CPUPercent, CPUMHz: u.CPUPercent / 100 * mhzPerCore, CPUTotalNanos: u.CPUTotalNanos,
		MemoryRSS: u.MemoryRSS, MemoryUsage: u.MemoryUsage,
	}, nil
}
