package client

import (
	"context"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// defaultStatsInterval is how often the client samples the resource use
// of its pods that have a scaling block and reports it to the leader's
// autoscaler (Kubernetes' metrics pipeline: 15 s).
const defaultStatsInterval = 5 * time.Second

// usageParallel bounds the tasks sampled at once.
const usageParallel = 16

// cpuMark is a task's CPU time at a sample, so the next sample measures
// the use over the whole interval between them, not only over the
// driver's 100 ms.
type cpuMark struct {
	nanos uint64
	at    time.Time
}

// reportUsage samples, every StatsInterval, the running tasks of the
// pods whose group has a scaling block and sends their use to the
// servers (PUT /v1/node/{id}/pods/usage, answered by the leader). Only
// the autoscaler reads it, so other pods are not sampled; `mk pod
// status` takes its own sample. A failed report is dropped: the next
// one is fresher.
func (c *Client) reportUsage(ctx context.Context) {
	marks := map[string]cpuMark{}
	ticker := time.NewTicker(c.config.StatsInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		usage := c.sampleUsage(ctx, marks)
		if len(usage) == 0 {
			continue
		}
		body := &structs.PodUsageBody{Interval: c.config.StatsInterval.String(), Usage: usage}
		rctx, cancel := context.WithTimeout(ctx, c.config.StatsInterval)
		err := c.api.ReportPodUsage(rctx, c.nodeID, body)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.logger.Warn("pod usage report failed", "pods", len(usage), "error", err)
		}
	}
}

// sampledTask is one task to sample.
type sampledTask struct {
	pod    int
	id     string
	driver drivers.Driver
}

// sampleUsage takes one sample of each running task of the scaled pods
// and sums them per pod. marks holds each task's CPU time at its last
// sample; tasks that no longer run are dropped from it.
func (c *Client) sampleUsage(ctx context.Context, marks map[string]cpuMark) []*structs.PodUsage {
	c.mu.Lock()
	runners := make([]*podRunner, 0, len(c.runners))
	for _, r := range c.runners {
		if r.pod.Template != nil && r.pod.Template.Scaling != nil {
			runners = append(runners, r)
		}
	}
	c.mu.Unlock()
	var tasks []sampledTask
	out := make([]*structs.PodUsage, len(runners))
	for i, r := range runners {
		out[i] = &structs.PodUsage{Namespace: r.pod.Namespace, PodID: r.pod.ID}
		for _, t := range r.pod.Template.Tasks {
			if tr, state := r.task(t.Name); state == structs.TaskStateRunning && tr != nil && tr.driver != nil {
				tasks = append(tasks, sampledTask{pod: i, id: drivers.TaskID(r.pod.ID, t.Name), driver: tr.driver})
			}
		}
	}
	samples := make([]*structs.ResourceUsage, len(tasks))
	mhzPerCore := float64(drivers.CoreMHz())
	sem := make(chan struct{}, usageParallel)
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			u, err := sampleTask(ctx, t.driver, t.id, mhzPerCore)
			if err != nil {
				c.logger.Debug("task usage sample failed", "task", t.id, "error", err)
			}
			samples[i] = u
		}()
	}
	wg.Wait()
	now := time.Now()
	next := make(map[string]cpuMark, len(tasks))
	for i, t := range tasks {
		u := samples[i]
		if u == nil {
			continue
		}
		mhz := u.CPUMHz
		if prev, ok := marks[t.id]; ok && u.CPUTotalNanos >= prev.nanos && now.After(prev.at) {
			mhz = float64(u.CPUTotalNanos-prev.nanos) / float64(now.Sub(prev.at).Nanoseconds()) * mhzPerCore
		}
		next[t.id] = cpuMark{nanos: u.CPUTotalNanos, at: now}
		p := out[t.pod]
		p.CPUMHz += mhz
		p.MemoryBytes += u.MemoryRSS
		p.Tasks++
		p.Time = now.UnixNano()
	}
	clear(marks)
	for k, v := range next {
		marks[k] = v
	}
	kept := out[:0]
	for _, p := range out {
		if p.Tasks > 0 {
			kept = append(kept, p)
		}
	}
	return kept
}
