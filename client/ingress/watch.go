package ingress

import (
	"context"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// ListFunc reads the cluster's ingresses by blocking query: it returns
// once their index passes waitIndex (at once for 0) or the server's wait
// ends, with the list and its index.
type ListFunc func(ctx context.Context, waitIndex uint64) ([]*structs.Ingress, uint64, error)

// Watch feeds p the ingresses that list reads until ctx ends, backing off
// after errors; an index that goes back (a snapshot restore) starts over.
func (p *Proxy) Watch(ctx context.Context, list ListFunc) {
	var index uint64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		l, next, err := list(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.logger.Warn("watch ingresses failed; retrying", "error", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if next == index && index != 0 {
			continue
		}
		index = next
		p.SetIngresses(l)
	}
}
