package client

import (
	"context"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/structs"
)

// syncReporter feeds the proxy and tells the servers which endpoints
// index it has programmed in the kernel: the leader stops a draining pod
// only once every node's proxy has dropped it (server/drain.go). Reports
// are coalesced: only the newest index goes out.
type syncReporter struct {
	proxy  *proxy.Proxy
	src    *serviceSource
	report func(ctx context.Context, index uint64) error
	kick   chan struct{}

	mu     sync.Mutex
	latest struct {
		gen, index uint64
	}
}

func newSyncReporter(p *proxy.Proxy, src *serviceSource, report func(context.Context, uint64) error) *syncReporter {
	return &syncReporter{proxy: p, src: src, report: report, kick: make(chan struct{}, 1)}
}

func (r *syncReporter) SetServices(l []*structs.Service) uint64 { return r.proxy.SetServices(l) }

// SetEndpoints hands the endpoints to the proxy and remembers which index
// that update carries.
func (r *syncReporter) SetEndpoints(l []*structs.Endpoints) uint64 {
	gen := r.proxy.SetEndpoints(l)
	r.mu.Lock()
	r.latest.gen, r.latest.index = gen, r.src.index()
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return gen
}

// run reports each newest index once the proxy synced it, retrying a
// failed report until a newer one replaces it.
func (r *syncReporter) run(ctx context.Context, logger hclog.Logger) {
	var sent uint64
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-retry.C:
		}
		r.mu.Lock()
		gen, index := r.latest.gen, r.latest.index
		r.mu.Unlock()
		if index <= sent {
			continue
		}
		if err := r.proxy.WaitSynced(ctx, gen); err != nil {
			return
		}
		if err := r.report(ctx, index); err != nil {
			if ctx.Err() == nil {
				logger.Debug("report programmed endpoints; retrying", "index", index, "error", err)
				retry.Reset(time.Second)
			}
			continue
		}
		sent = index
	}
}
