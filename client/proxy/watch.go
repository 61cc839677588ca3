package proxy

import (
	"context"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/structs"
)

// Source is what the proxy needs of the servers: the services and the
// endpoints of the whole cluster by blocking query (GET /v1/services and
// GET /v1/endpoints with ?index=). Each call returns once the list's
// index passes waitIndex (at once when it is 0) or the server's wait
// ends, with the list and its index. The client implements it with its
// API client; it must be safe for concurrent use.
type Source interface {
	Services(ctx context.Context, waitIndex uint64) ([]*structs.Service, uint64, error)
	Endpoints(ctx context.Context, waitIndex uint64) ([]*structs.Endpoints, uint64, error)
}

// Sink takes what Watch reads; *Proxy is one, and the node DNS can be
// another.
type Sink interface {
	SetServices([]*structs.Service) uint64
	SetEndpoints([]*structs.Endpoints) uint64
}

// Watch feeds sinks from src until ctx ends, one blocking-query loop per
// list. A list is handed on only when its index moved, and every sink
// gets the same slice, which none may change.
func Watch(ctx context.Context, src Source, logger hclog.Logger, sinks ...Sink) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named("proxy.watch")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		watchList(ctx, logger.With("list", "services"), src.Services, func(l []*structs.Service) {
			for _, s := range sinks {
				s.SetServices(l)
			}
		})
	}()
	go func() {
		defer wg.Done()
		watchList(ctx, logger.With("list", "endpoints"), src.Endpoints, func(l []*structs.Endpoints) {
			for _, s := range sinks {
				s.SetEndpoints(l)
			}
		})
	}()
	wg.Wait()
}

// watchList runs one blocking-query loop, backing off after errors. An
// index that goes back (the servers restored a snapshot) starts over.
func watchList[T any](ctx context.Context, logger hclog.Logger, list func(context.Context, uint64) (T, uint64, error), deliver func(T)) {
	var index uint64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		got, next, err := list(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Warn("watch failed; retrying", "error", err, "in", backoff)
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
		if next < index {
			logger.Info("index went back; reading the list again", "from", index, "to", next)
		}
		index = next
		deliver(got)
	}
}
