package client

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// reconcileInterval is how often drivers that can find what they made
// without a handle (docker: containers by label) are asked to remove what
// belongs to no pod this client runs.
const reconcileInterval = 30 * time.Second

// reconcileDrivers reconciles at once (a restarted client: containers of
// pods that went while it was down) and then every reconcileInterval
// until ctx ends.
func (c *Client) reconcileDrivers(ctx context.Context) {
	for {
		c.reconcileDriversOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(reconcileInterval):
		}
	}
}

// reconcileDriversOnce asks every driver with the capability to remove
// what it holds of pods that have no runner.
func (c *Client) reconcileDriversOnce(ctx context.Context) {
	live := c.livePods()
	health := c.currentNode().Drivers
	for name, d := range c.config.Drivers {
		r, ok := d.(drivers.Reconciler)
		// A driver that is not healthy could not answer either: it is
		// reconciled once it is again.
		if !ok || health[name] == nil || !health[name].Healthy {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		removed, err := r.Reconcile(rctx, c.nodeID, live)
		cancel()
		switch {
		case errors.Is(err, drivers.ErrNotSupported):
		case err != nil:
			c.logger.Warn("reconcile driver", "driver", name, "error", err)
		case len(removed) > 0:
			c.logger.Info("removed what the driver held of pods that are gone", "driver", name, "removed", removed)
		}
	}
}

// livePods are the IDs of the pods with a runner, sorted.
func (c *Client) livePods() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.runners))
	for id := range c.runners {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
