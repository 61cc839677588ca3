package docker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/mk-orchestrator/mk/drivers"
)

// TaskStats follows the Engine's stats stream of the container (a sample
// a second) and sends one sample per interval until ctx ends or the
// container stops.
func (d *Driver) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	t, err := d.lookup(taskID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := d.docker.ContainerStats(ctx, t.containerID, true)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *drivers.TaskResourceUsage)
	go func() {
		defer close(out)
		defer cancel()
		defer resp.Body.Close()
		stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
		defer stop()
		go func() {
			select {
			case <-t.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		d.sendStats(ctx, json.NewDecoder(resp.Body), interval, out)
	}()
	return out, nil
}

// sendStats decodes the stream and sends a sample at most every interval.
func (d *Driver) sendStats(ctx context.Context, dec *json.Decoder, interval time.Duration, out chan<- *drivers.TaskResourceUsage) {
	var last *drivers.TaskResourceUsage
	for {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			return
		}
		u := usage(&s, last)
		if last != nil && time.Duration(u.Timestamp-last.Timestamp) < interval-100*time.Millisecond {
			continue
		}
		last = u
		select {
		case out <- u:
		case <-ctx.Done():
			return
		}
	}
}

// usage converts a stats sample; CPUPercent is over the time since prev.
func usage(s *container.StatsResponse, prev *drivers.TaskResourceUsage) *drivers.TaskResourceUsage {
	u := &drivers.TaskResourceUsage{Timestamp: s.Read.UnixNano(), CPUTotalNanos: s.CPUStats.CPUUsage.TotalUsage,
		MemoryUsage: s.MemoryStats.Usage}
	if u.Timestamp <= 0 {
		u.Timestamp = time.Now().UnixNano()
	}
	// cgroup v1 counts anonymous memory as rss, v2 as anon.
	if rss, ok := s.MemoryStats.Stats["rss"]; ok {
		u.MemoryRSS = rss
	} else {
		u.MemoryRSS = s.MemoryStats.Stats["anon"]
	}
	prevCPU, prevAt := s.PreCPUStats.CPUUsage.TotalUsage, s.PreRead.UnixNano()
	if prev != nil {
		prevCPU, prevAt = prev.CPUTotalNanos, prev.Timestamp
	}
	if dt := u.Timestamp - prevAt; dt > 0 && prevAt > 0 && u.CPUTotalNanos >= prevCPU {
		u.CPUPercent = float64(u.CPUTotalNanos-prevCPU) / float64(dt) * 100
	}
	return u
}
