package exec

import (
	"context"
	"fmt"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// TaskStats samples the task's cgroup every interval.
func (d *Driver) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, fmt.Errorf("task stats: %w", err)
	}
	if t.cgroup == nil {
		return nil, fmt.Errorf("task stats %s: the task has no cgroup", taskID)
	}
	if interval <= 0 {
		interval = time.Second
	}
	prev, err := t.cgroup.Stats()
	if err != nil {
		return nil, fmt.Errorf("task stats %s: %w", taskID, err)
	}
	ch := make(chan *drivers.TaskResourceUsage)
	go d.sampleStats(ctx, t, interval, prev, ch)
	return ch, nil
}

// sampleStats sends a sample every interval until ctx is done or the task
// exits.
func (d *Driver) sampleStats(ctx context.Context, t *task, interval time.Duration, prev *cgroupStats, ch chan<- *drivers.TaskResourceUsage) {
	defer close(ch)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.exited:
			return
		case now := <-ticker.C:
			cur, err := t.cgroup.Stats()
			if err != nil {
				t.logger.Debug("reading task stats failed", "error", err)
				continue
			}
			u := &drivers.TaskResourceUsage{
				Timestamp:     now.UnixNano(),
				CPUTotalNanos: cur.CPUNanos,
				MemoryRSS:     cur.MemoryRSS,
				MemoryUsage:   cur.MemoryUsage,
			}
			if wall := now.Sub(prevAt); wall > 0 && cur.CPUNanos >= prev.CPUNanos {
				u.CPUPercent = float64(cur.CPUNanos-prev.CPUNanos) / float64(wall.Nanoseconds()) * 100
			}
			prev, prevAt = cur, now
			select {
			case ch <- u:
			case <-ctx.Done():
				return
			}
		}
	}
}
