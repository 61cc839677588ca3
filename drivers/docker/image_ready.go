package docker

import (
	"context"
	"fmt"
	"sync"

	"github.com/mk-orchestrator/mk/drivers"
)

// imageChecks are the image checks (and pulls) begun with a pod's
// sandbox, so that they overlap the pause container's create and start
// instead of following it. StartTask takes the result of its image's.
type imageChecks struct {
	mu      sync.Mutex
	pending map[imageKey]*imageCheck
}

type imageKey struct{ pod, image, pull string }

type imageCheck struct {
	done chan struct{}
	err  error
}

// prepareImages begins ensureImage for each image of the pod's tasks.
func (d *Driver) prepareImages(req *drivers.NetworkRequest) {
	for _, im := range req.Images {
		k := imageKey{req.PodID, im.Image, im.Pull}
		d.images.mu.Lock()
		if d.images.pending == nil {
			d.images.pending = map[imageKey]*imageCheck{}
		}
		if _, ok := d.images.pending[k]; ok {
			d.images.mu.Unlock()
			continue
		}
		c := &imageCheck{done: make(chan struct{})}
		d.images.pending[k] = c
		d.images.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), d.cfg.PullTimeout+apiTimeout)
			defer cancel()
			c.err = d.ensureImage(ctx, k.image, k.pull)
			close(c.done)
		}()
	}
}

// readyImage is ensureImage for a task of a pod: the result of the check
// begun with the pod's sandbox when there is one, else a check now. A
// result is taken once: a task started again checks again.
func (d *Driver) readyImage(ctx context.Context, podID, ref, policy string) error {
	k := imageKey{podID, ref, policy}
	d.images.mu.Lock()
	c, ok := d.images.pending[k]
	delete(d.images.pending, k)
	d.images.mu.Unlock()
	if !ok {
		return d.ensureImage(ctx, ref, policy)
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("image %s: %w", ref, ctx.Err())
	}
}

// forgetImages drops the checks of a pod whose sandbox goes.
func (d *Driver) forgetImages(podID string) {
	d.images.mu.Lock()
	defer d.images.mu.Unlock()
	for k := range d.images.pending {
		if k.pod == podID {
			delete(d.images.pending, k)
		}
	}
}
