package client

import (
	"context"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// statusBatcher sends pod reports to the servers at once, batched over a
// few milliseconds: a task's change reaches the API in milliseconds, not on
// a one-second tick, and a burst is one request.
type statusBatcher struct {
	c      *Client
	window time.Duration

	mu      sync.Mutex
	pending map[string]*structs.PodStatusUpdate
	kick    chan struct{}
}

func newStatusBatcher(c *Client, window time.Duration) *statusBatcher {
	return &statusBatcher{c: c, window: window, pending: map[string]*structs.PodStatusUpdate{}, kick: make(chan struct{}, 1)}
}

// queue records the latest report of a pod (replacing an unsent one).
func (b *statusBatcher) queue(u *structs.PodStatusUpdate) {
	b.mu.Lock()
	b.pending[u.PodID] = u
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *statusBatcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		select {
		case <-time.After(b.window):
		case <-ctx.Done():
			return
		}
		batch := b.take()
		if len(batch) == 0 {
			continue
		}
		if err := b.c.api.UpdatePodStatus(ctx, b.c.nodeID, batch); err != nil {
			b.c.logger.Warn("pod status report failed; will retry", "pods", len(batch), "error", err)
			b.requeue(batch)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
	}
}

// requeue puts back reports that failed, unless newer ones came meanwhile.
func (b *statusBatcher) requeue(batch []*structs.PodStatusUpdate) {
	b.mu.Lock()
	for _, u := range batch {
		if _, newer := b.pending[u.PodID]; !newer {
			b.pending[u.PodID] = u
		}
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// flush sends what is queued now, once; used when the client stops.
func (b *statusBatcher) flush(ctx context.Context) {
	if batch := b.take(); len(batch) > 0 {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = b.c.api.UpdatePodStatus(ctx, b.c.nodeID, batch)
	}
}

// take removes and returns every queued report.
func (b *statusBatcher) take() []*structs.PodStatusUpdate {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch := make([]*structs.PodStatusUpdate, 0, len(b.pending))
	for _, u := range b.pending {
		batch = append(batch, u)
	}
	b.pending = map[string]*structs.PodStatusUpdate{}
	return batch
}
