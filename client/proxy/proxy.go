package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/structs"
)

// Defaults of Config.
const (
	DefaultMinSyncPeriod  = 100 * time.Millisecond
	DefaultFullSyncPeriod = time.Hour
	defaultRetryPeriod    = time.Second
	maxRetryPeriod        = 30 * time.Second
)

// Config configures a Proxy.
type Config struct {
	// Writer is the backend: NewIPTables or NewNFTables.
	Writer Writer
	// Node is what the rules need of this node and cluster.
	Node NodeInfo
	// Runner runs conntrack; ExecRunner{} when nil.
	Runner Runner
	// MinSyncPeriod is the least time between the starts of two syncs:
	// updates within it are coalesced into one sync. The first update
	// after a quiet period syncs at once.
	MinSyncPeriod time.Duration
	// FullSyncPeriod is how often everything is rewritten, repairing
	// whatever changed mk's rules behind its back.
	FullSyncPeriod time.Duration
	// RetryPeriod is the first wait before retrying a failed sync; it
	// doubles up to 30 s.
	RetryPeriod time.Duration
	Logger      hclog.Logger
}

// SyncStatus is the outcome of the last sync.
type SyncStatus struct {
	// Generation is that of the last update the sync covered.
	Generation uint64
	Time       time.Time
	Duration   time.Duration
	Result     SyncResult
	Err        error
}

// Proxy keeps the node's rules in line with the services and endpoints
// it is given: Update (or SetServices and SetEndpoints) may be called from
// any goroutine; Run does the syncing in the goroutine that calls it.
type Proxy struct {
	cfg    Config
	logger hclog.Logger
	kick   chan struct{}

	mu         sync.Mutex
	services   []*structs.Service
	endpoints  []*structs.Endpoints
	haveSvc    bool
	haveEps    bool
	generation uint64
	status     SyncStatus
	// synced is the generation last written; syncedCh is closed and
	// replaced at every successful sync, waking WaitSynced.
	synced   uint64
	syncedCh chan struct{}

	// Only Run's goroutine touches these.
	last     *Ruleset
	problems string
	ports    *portCache
}

// New returns a Proxy; call Run to start syncing.
func New(cfg Config) *Proxy {
	if cfg.Runner == nil {
		cfg.Runner = ExecRunner{}
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = DefaultMinSyncPeriod
	}
	if cfg.FullSyncPeriod <= 0 {
		cfg.FullSyncPeriod = DefaultFullSyncPeriod
	}
	if cfg.RetryPeriod <= 0 {
		cfg.RetryPeriod = defaultRetryPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Proxy{cfg: cfg, logger: cfg.Logger.Named("proxy"), kick: make(chan struct{}, 1), syncedCh: make(chan struct{}),
		ports: newPortCache()}
}

// Update replaces the services and endpoints and returns the update's
// generation (see WaitSynced). The proxy keeps the slices and reads them
// later: the caller must not change them afterwards.
func (p *Proxy) Update(services []*structs.Service, endpoints []*structs.Endpoints) uint64 {
	return p.set(func() {
		p.services, p.endpoints = services, endpoints
		p.haveSvc, p.haveEps = true, true
	})
}

// SetServices replaces the services only, for a watcher that watches
// the two lists apart. Nothing is written until both lists have come
// once, so a starting client does not reject every service for want of
// its endpoints.
func (p *Proxy) SetServices(services []*structs.Service) uint64 {
	return p.set(func() { p.services, p.haveSvc = services, true })
}

// SetEndpoints replaces the endpoints only; see SetServices.
func (p *Proxy) SetEndpoints(endpoints []*structs.Endpoints) uint64 {
	return p.set(func() { p.endpoints, p.haveEps = endpoints, true })
}

func (p *Proxy) set(change func()) uint64 {
	p.mu.Lock()
	change()
	p.generation++
	gen := p.generation
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return gen
}

// Status is the outcome of the last sync.
func (p *Proxy) Status() SyncStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// WaitSynced blocks until an update of generation gen or later is in
// the kernel, or ctx ends.
func (p *Proxy) WaitSynced(ctx context.Context, gen uint64) error {
	for {
		p.mu.Lock()
		done, ch := p.synced >= gen, p.syncedCh
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Run syncs until ctx ends: at once on the first update after a quiet
// period, then at most once per MinSyncPeriod, fully every
// FullSyncPeriod, and again with backoff after a failure. The writer's
// programs run from this goroutine (and inherit its thread's network
// namespace when the caller locked it into one).
func (p *Proxy) Run(ctx context.Context) {
	full := time.NewTimer(p.cfg.FullSyncPeriod)
	defer full.Stop()
	var retry <-chan time.Time
	retryPeriod := p.cfg.RetryPeriod
	var lastStart time.Time
	needFull := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-full.C:
			needFull = true
		case <-retry:
		}
		if !p.ready() {
			// Nothing to write until both lists came; waiting here must
			// not hold back the first sync by a period.
			continue
		}
		if wait := p.cfg.MinSyncPeriod - time.Since(lastStart); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		lastStart = time.Now()
		if err := p.syncOnce(ctx, needFull); err != nil {
			retry = time.After(retryPeriod)
			retryPeriod = min(2*retryPeriod, maxRetryPeriod)
			continue
		}
		retry, retryPeriod = nil, p.cfg.RetryPeriod
		if needFull {
			needFull = false
			full.Reset(p.cfg.FullSyncPeriod)
		}
	}
}

// ready: both lists have come at least once.
func (p *Proxy) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.haveSvc && p.haveEps
}

// syncOnce computes the desired rules from the latest update and writes
// them, then deletes UDP flows that the change made stale.
func (p *Proxy) syncOnce(ctx context.Context, full bool) error {
	p.mu.Lock()
	services, endpoints, gen := p.services, p.endpoints, p.generation
	ready := p.haveSvc && p.haveEps
	p.mu.Unlock()
	if !ready {
		return nil
	}
	start := time.Now()
	rs := p.ports.compute(services, endpoints, p.cfg.Node)
	p.logProblems(rs)
	res, err := p.cfg.Writer.Sync(ctx, rs, full)
	took := time.Since(start)
	observeSync(p.cfg.Writer.Mode(), res.Full, took, err)
	status := SyncStatus{Generation: gen, Time: start, Duration: took, Result: res, Err: err}
	if err != nil {
		p.logger.Error("sync failed; retrying with a full sync", "error", err, "duration", took)
		p.setStatus(status, false)
		return err
	}
	if flows := staleUDPFlows(p.last, rs); len(flows) > 0 {
		if err := deleteUDPFlows(ctx, p.cfg.Runner, flows); err != nil && !errors.Is(err, context.Canceled) {
			p.logger.Warn("stale UDP flows remain", "error", err)
		}
	}
	p.last = rs
	p.setStatus(status, true)
	p.logger.Debug("synced", "full", res.Full, "service_ports", len(rs.ServicePorts),
		"chains_written", res.ChainsWritten, "chains_deleted", res.ChainsDeleted,
		"elements_written", res.ElementsWritten, "elements_deleted", res.ElementsDeleted,
		"bytes", res.Bytes, "duration", took)
	return nil
}

func (p *Proxy) setStatus(s SyncStatus, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = s
	if ok {
		p.synced = s.Generation
		close(p.syncedCh)
		p.syncedCh = make(chan struct{})
	}
}

// logProblems logs what Compute skipped, when it changes.
func (p *Proxy) logProblems(rs *Ruleset) {
	joined := strings.Join(rs.Problems, "; ")
	if joined != p.problems && joined != "" {
		p.logger.Warn("services or endpoints skipped", "problems", joined)
	}
	p.problems = joined
}
