package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil/poll"
)

// fakeWriter records the syncs asked of it; failures makes the next
// ones fail.
type fakeWriter struct {
	mu       sync.Mutex
	syncs    []*Ruleset
	fulls    []bool
	failures int
}

func (w *fakeWriter) Mode() string                  { return "fake" }
func (w *fakeWriter) Cleanup(context.Context) error { return nil }
func (w *fakeWriter) Sync(_ context.Context, rs *Ruleset, full bool) (SyncResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures > 0 {
		w.failures--
		return SyncResult{}, errors.New("restore failed")
	}
	w.syncs = append(w.syncs, rs)
	w.fulls = append(w.fulls, full)
	return SyncResult{Full: full}, nil
}

func (w *fakeWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.syncs)
}

// fakeRunner records the programs run and answers conntrack like the
// real one when nothing matched.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
}

func (r *fakeRunner) Run(_ context.Context, _ []byte, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name+" "+strings.Join(args, " "))
	return nil, &RunError{Cmd: name, ExitCode: 1, Stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.", Err: errors.New("exit status 1")}
}

func (r *fakeRunner) taken() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func startProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p
}

func waitSynced(t *testing.T, p *Proxy, gen uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitSynced(ctx, gen); err != nil {
		t.Fatalf("generation %d not synced: %v (status %+v)", gen, err, p.Status())
	}
}

// TestProxyCoalescesBursts: a burst of updates within the minimum sync
// period is written in a few syncs, the last one with the last update.
func TestProxyCoalescesBursts(t *testing.T) {
	w := &fakeWriter{}
	p := startProxy(t, Config{Writer: w, Node: testNode, Runner: &fakeRunner{}, MinSyncPeriod: 200 * time.Millisecond})
	services, endpoints := threeServices(false)
	var gen uint64
	start := time.Now()
	for i := 0; i < 100; i++ {
		gen = p.Update(services, endpoints)
	}
	waitSynced(t, p, gen)
	// The first update syncs at once; the rest wait out one period.
	if n := w.count(); n > 3 || (n == 3 && time.Since(start) < 400*time.Millisecond) {
		t.Errorf("100 updates in a burst took %d syncs, want at most 2 within a period", n)
	}
	if st := p.Status(); st.Generation != gen || st.Err != nil || st.Duration <= 0 {
		t.Errorf("status = %+v, want generation %d without error", st, gen)
	}
}

// TestProxyWaitsForBothLists: services alone are not written (every
// service would reject for want of endpoints).
func TestProxyWaitsForBothLists(t *testing.T) {
	w := &fakeWriter{}
	p := startProxy(t, Config{Writer: w, Node: testNode, Runner: &fakeRunner{}, MinSyncPeriod: time.Millisecond})
	services, endpoints := threeServices(false)
	p.SetServices(services)
	gen := p.SetEndpoints(endpoints)
	waitSynced(t, p, gen)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, rs := range w.syncs {
		for _, sp := range rs.ServicePorts {
			if len(sp.Endpoints) == 0 {
				t.Fatalf("a sync wrote %s without its endpoints", sp.Name())
			}
		}
	}
}

// TestProxyFirstSyncNotHeldBack: the services list alone starts no
// period, so the first sync follows the endpoints list at once (a
// watcher delivers the two lists a few ms apart).
func TestProxyFirstSyncNotHeldBack(t *testing.T) {
	w := &fakeWriter{}
	p := startProxy(t, Config{Writer: w, Node: testNode, Runner: &fakeRunner{}, MinSyncPeriod: time.Hour})
	services, endpoints := threeServices(false)
	p.SetServices(services)
	// Run takes the services' kick alone, before the endpoints arrive.
	poll.WaitFor(t, 5*time.Second, func() (bool, error) {
		return len(p.kick) == 0, errors.New("Run has not taken the services' kick")
	})
	gen := p.SetEndpoints(endpoints)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.WaitSynced(ctx, gen); err != nil {
		t.Fatalf("first sync held back by the minimum sync period: %v", err)
	}
}

// TestProxyRetriesAfterFailure: a failed sync is retried without a new
// update.
func TestProxyRetriesAfterFailure(t *testing.T) {
	w := &fakeWriter{failures: 2}
	p := startProxy(t, Config{Writer: w, Node: testNode, Runner: &fakeRunner{}, MinSyncPeriod: time.Millisecond, RetryPeriod: 5 * time.Millisecond})
	services, endpoints := threeServices(false)
	waitSynced(t, p, p.Update(services, endpoints))
	if w.count() != 1 {
		t.Errorf("%d successful syncs, want 1 after 2 failures", w.count())
	}
}

// TestProxyDeletesStaleUDPFlows: removing a UDP endpoint deletes the
// flows DNATed to it; removing the service deletes all flows to it.
func TestProxyDeletesStaleUDPFlows(t *testing.T) {
	run := &fakeRunner{}
	p := startProxy(t, Config{Writer: &fakeWriter{}, Node: testNode, Runner: run, MinSyncPeriod: time.Millisecond})
	dns := svc("dns", "10.96.0.53", &structs.ServicePort{Name: "dns", Protocol: "udp", Port: 53, TargetPort: 53})
	web := svc("web", "10.96.0.10", tcpPort("http", 80, 8080))
	both := eps("dns", ep("a", "10.42.1.3", true, nil), ep("b", "10.42.2.3", true, nil))
	webEps := eps("web", ep("w", "10.42.1.1", true, nil))
	waitSynced(t, p, p.Update([]*structs.Service{dns, web}, []*structs.Endpoints{both, webEps}))
	if calls := run.taken(); len(calls) != 0 {
		t.Errorf("first sync ran %v, want nothing", calls)
	}
	one := eps("dns", ep("a", "10.42.1.3", true, nil))
	waitSynced(t, p, p.Update([]*structs.Service{dns, web}, []*structs.Endpoints{one}))
	want := []string{"conntrack -D -p udp --orig-dst 10.96.0.53 --orig-port-dst 53 --reply-src 10.42.2.3"}
	if calls := run.taken(); strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("endpoint removal ran %q, want %q (web is tcp: nothing for it)", calls, want)
	}
	waitSynced(t, p, p.Update([]*structs.Service{web}, nil))
	want = []string{"conntrack -D -p udp --orig-dst 10.96.0.53 --orig-port-dst 53"}
	if calls := run.taken(); strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("service removal ran %q, want %q", calls, want)
	}
	if st := p.Status(); st.Err != nil {
		t.Errorf("\"0 flow entries\" made the sync fail: %v", st.Err)
	}
}

func TestStaleUDPFlowsFirstEndpoint(t *testing.T) {
	np := svc("dns", "10.96.0.53", &structs.ServicePort{Name: "dns", Protocol: "udp", Port: 53, TargetPort: 53, NodePort: 30053})
	before := Compute([]*structs.Service{np}, nil, testNode)
	after := Compute([]*structs.Service{np}, []*structs.Endpoints{eps("dns", ep("a", "10.42.1.3", true, nil))}, testNode)
	var got []string
	for _, f := range staleUDPFlows(before, after) {
		got = append(got, strings.Join(f.args(), " "))
	}
	want := "-D -p udp --orig-dst 10.96.0.53 --orig-port-dst 53\n-D -p udp --orig-port-dst 30053"
	if strings.Join(got, "\n") != want {
		t.Errorf("first endpoint: flows %q, want %q (entries made while it rejected were never DNATed)", got, want)
	}
}

// fakeSource answers blocking queries from channels.
type fakeSource struct {
	services  chan []*structs.Service
	endpoints chan []*structs.Endpoints
	index     uint64
	mu        sync.Mutex
}

func (s *fakeSource) next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index++
	return s.index
}

func (s *fakeSource) Services(ctx context.Context, _ uint64) ([]*structs.Service, uint64, error) {
	select {
	case l := <-s.services:
		return l, s.next(), nil
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

func (s *fakeSource) Endpoints(ctx context.Context, _ uint64) ([]*structs.Endpoints, uint64, error) {
	select {
	case l := <-s.endpoints:
		return l, s.next(), nil
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

func TestWatchFeedsTheProxy(t *testing.T) {
	w := &fakeWriter{}
	p := startProxy(t, Config{Writer: w, Node: testNode, Runner: &fakeRunner{}, MinSyncPeriod: time.Millisecond})
	src := &fakeSource{services: make(chan []*structs.Service), endpoints: make(chan []*structs.Endpoints)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, src, nil, p)
	}()
	defer func() {
		cancel()
		<-done
	}()
	services, endpoints := threeServices(false)
	src.services <- services
	src.endpoints <- endpoints
	waitSynced(t, p, 2)
	w.mu.Lock()
	last := w.syncs[len(w.syncs)-1]
	w.mu.Unlock()
	if len(last.ServicePorts) != 3 || len(last.ServicePorts[0].Endpoints) != 2 {
		t.Fatalf("watch fed %+v, want three service ports with two endpoints each", last.ServicePorts)
	}
}
