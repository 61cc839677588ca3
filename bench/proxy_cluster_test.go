//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/client"
	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// benchPodCIDR is the bench node's own pod subnet: the first 254 pods'
// addresses lie in it, as on a node that runs 254 of the cluster's pods.
const benchPodCIDR = "10.42.0.0/24"

// proxyCluster is a one-server cluster with N services of perService
// ready endpoints each, on simulated nodes.
type proxyCluster struct {
	c          *testutil.Cluster
	api        *api.Client
	services   []string // service (= job) names
	perService int
	nextIP     atomic.Int64
	sims       []*testutil.SimNode
}

const proxyCheck = "tcp"

func newProxyCluster(t *testing.T, services, perService int) *proxyCluster {
	start := time.Now()
	f := &proxyCluster{perService: perService}
	f.c = testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(i int, cfg *server.Config) {
		// The simulated nodes stop once their pods are ready (below):
		// no node may be marked down during the rows.
		cfg.HeartbeatTTL = time.Hour
		// The leader's periodic full pass over every pod (0.3 s of CPU
		// every 5 s at 100,000 pods) runs on the servers' machines in a
		// real cluster; here it shared 2 cores with the node's nft in
		// the timed rows. Writes still start incremental passes.
		cfg.ReconcileInterval = time.Hour
	}})
	addr := f.c.Nodes[0].Addr()
	cl, err := api.NewClient(api.Config{Address: addr, HTTPClient: &http.Client{Timeout: 6 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	f.api = cl
	pods := services * perService
	nodes := max(1, pods/500)
	for i := 0; i < nodes; i++ {
		sn, err := testutil.NewStoppedSimNode(addr, fmt.Sprintf("sim-%04d", i), []string{"exec"},
			structs.NodeResources{CPU: 1 << 20, MemoryMB: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		sn.Fill = func(p *structs.Pod, u *structs.PodStatusUpdate) {
			u.IP = p.IP
			if u.IP == "" {
				u.IP = ipOf(10<<24|42<<16, int(f.nextIP.Add(1)))
			}
			u.Healthy = true
			u.Checks = []*structs.CheckStatus{{Name: p.JobID + "-" + proxyCheck, Service: p.JobID, Status: structs.CheckPassing}}
		}
		if err := sn.Start(); err != nil {
			t.Fatal(err)
		}
		f.sims = append(f.sims, sn)
		t.Cleanup(sn.Stop)
	}
	for i := 0; i < services; i++ {
		f.services = append(f.services, fmt.Sprintf("svc-%05d", i))
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				if _, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: proxyJob(name, perService)}); err != nil {
					select {
					case errc <- fmt.Errorf("register %s: %w", name, err):
					default:
					}
				}
			}
		}()
	}
	for _, name := range f.services {
		jobs <- name
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	registered := time.Since(start)
	f.waitAllReady(t, 10*time.Minute)
	// Each simulated node's watch of its pods wakes on every pod write
	// and decodes its 500 pods: work that other machines do in a real
	// cluster, and half this machine's CPU in a profile of the rows.
	// The rows report check results through the API themselves.
	for _, sn := range f.sims {
		sn.Stop()
	}
	fmt.Printf("proxy bench: %d services x %d pods registered in %.1f s, all endpoints ready after %.1f s (load %s)\n",
		services, perService, registered.Seconds(), time.Since(start).Seconds(), loadAvg())
	return f
}

func (f *proxyCluster) stop() { f.c.Shutdown() }

// proxyJob is a service job of n exec pods with one tcp-checked service
// named after it.
func proxyJob(name string, n int) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Type:       structs.JobTypeService,
		Groups: []*structs.TaskGroup{{
			Name:    "web",
			Count:   n,
			Network: &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}},
			Services: []*structs.ServiceSpec{{Name: name, Port: "http",
				Checks: []*structs.ServiceCheck{{Type: proxyCheck, Interval: "10s", Timeout: "2s"}}}},
			Tasks: []*structs.Task{{Name: "server", Driver: "exec",
				Config:    &structs.TaskConfig{Command: "/bin/busybox", Args: []string{"httpd", "-f", "-p", "8080"}},
				Resources: &structs.Resources{CPU: 10, MemoryMB: 16}}},
		}},
	}
}

func (f *proxyCluster) state() *state.StateStore { return f.c.Nodes[0].Server.State() }

// waitAllReady waits until every service has perService ready endpoints.
func (f *proxyCluster) waitAllReady(t *testing.T, d time.Duration) {
	t.Helper()
	testutil.WaitFor(t, d, func() (bool, error) {
		eps, err := state.List[*structs.Endpoints](f.state(), nil, state.TableEndpoints, state.AllNamespaces)
		if err != nil {
			return false, err
		}
		ready := 0
		for _, e := range eps {
			ready += e.ReadyCount()
		}
		want := len(f.services) * f.perService
		return ready == want, fmt.Errorf("%d of %d endpoints ready", ready, want)
	})
}

// podOf is pod i (by name) of a service's job.
func (f *proxyCluster) podOf(t *testing.T, svc string, i int) *structs.Pod {
	pods, err := f.state().PodsByJob(nil, "default", svc)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(pods, func(a, b int) bool { return pods[a].Name < pods[b].Name })
	var live []*structs.Pod
	for _, p := range pods {
		if p.Active() {
			live = append(live, p)
		}
	}
	if i >= len(live) {
		t.Fatalf("%s has %d live pods, want pod %d", svc, len(live), i)
	}
	return live[i]
}

// setChecks reports the check of each pod passing (ready) or failing, as
// their nodes' clients would, one report per node, all at once.
func (f *proxyCluster) setChecks(t *testing.T, pods []*structs.Pod, ready bool) {
	status := structs.CheckCritical
	if ready {
		status = structs.CheckPassing
	}
	byNode := map[string][]*structs.PodStatusUpdate{}
	for _, p := range pods {
		states := map[string]*structs.TaskState{}
		for _, task := range p.Template.Tasks {
			states[task.Name] = &structs.TaskState{State: structs.TaskStateRunning}
		}
		byNode[p.NodeID] = append(byNode[p.NodeID], &structs.PodStatusUpdate{Namespace: p.Namespace, PodID: p.ID,
			Phase: structs.PodPhaseRunning, IP: p.IP, TaskStates: states, Healthy: true,
			Checks: []*structs.CheckStatus{{Name: p.JobID + "-" + proxyCheck, Service: p.JobID, Status: status}}})
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(byNode))
	for node, updates := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- f.api.UpdatePodStatus(context.Background(), node, updates)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// endpointIs reports whether the endpoint of pod in eps is ready (or not).
func endpointIs(eps *structs.Endpoints, pod *structs.Pod, ready bool) bool {
	if eps == nil {
		return false
	}
	for _, e := range eps.Endpoints {
		if e.PodID == pod.ID {
			return e.Ready == ready
		}
	}
	return false
}

// storeChanged returns when every pod's endpoint has readiness ready in
// the server's state store (the endpoints controller's Raft write is
// applied), and when that was.
func (f *proxyCluster) storeChanged(ctx context.Context, pods []*structs.Pod, ready bool) (time.Time, error) {
	for {
		ws := memdb.NewWatchSet()
		done := true
		for _, p := range pods {
			e, err := f.state().EndpointsOf(ws, p.Namespace, p.JobID)
			if err != nil {
				return time.Time{}, err
			}
			if !endpointIs(e, p, ready) {
				done = false
			}
		}
		if done {
			return time.Now(), nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return time.Time{}, err
		}
	}
}

// watchSink stands between proxy.Watch and the Proxy, noting what each
// delivery carried, its generation and its time.
type watchSink struct {
	p       *proxy.Proxy
	mu      sync.Mutex
	svcs    []*structs.Service
	eps     []*structs.Endpoints
	svcGen  uint64
	epsGen  uint64
	epsAt   time.Time
	changed chan struct{}
}

func newWatchSink(p *proxy.Proxy) *watchSink { return &watchSink{p: p, changed: make(chan struct{})} }

func (s *watchSink) SetServices(l []*structs.Service) uint64 {
	gen := s.p.SetServices(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.svcs, s.svcGen = l, gen
	close(s.changed)
	s.changed = make(chan struct{})
	return gen
}

func (s *watchSink) SetEndpoints(l []*structs.Endpoints) uint64 {
	gen := s.p.SetEndpoints(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eps, s.epsGen, s.epsAt = l, gen, time.Now()
	close(s.changed)
	s.changed = make(chan struct{})
	return gen
}

// waitFor waits until cond holds of the last lists delivered and returns
// the generation that covers both, and when the endpoints came.
func (s *watchSink) waitFor(ctx context.Context, cond func([]*structs.Service, []*structs.Endpoints) bool) (uint64, time.Time, error) {
	for {
		s.mu.Lock()
		ok := s.svcs != nil && s.eps != nil && cond(s.svcs, s.eps)
		gen, at, ch := max(s.svcGen, s.epsGen), s.epsAt, s.changed
		s.mu.Unlock()
		if ok {
			return gen, at, nil
		}
		select {
		case <-ctx.Done():
			return 0, time.Time{}, ctx.Err()
		case <-ch:
		}
	}
}

// benchProxyRow measures one mode on the cluster's services; round
// picks pods no earlier row changed.
func benchProxyRow(t *testing.T, f *proxyCluster, mode string, round int) proxyRow {
	services := len(f.services)
	row := proxyRow{Mode: mode, Services: services, EndpointsPerService: f.perService, Fed: "watch", Load: loadAvg()}
	node := newBenchNS(t)
	var w interface {
		proxy.Writer
		LastPayload() []byte
	}
	if mode == proxy.ModeIPTables {
		w = proxy.NewIPTables(nil, nil)
	} else {
		w = proxy.NewNFTables(nil, nil)
	}
	// The client's settings: only the writer and its namespace differ.
	p := proxy.New(proxy.Config{Writer: w, Node: proxy.NodeInfo{PodCIDRPool: structs.DefaultPodCIDRPool,
		ServiceCIDR: structs.DefaultServiceCIDR, PodCIDR: benchPodCIDR, LocalhostNodePorts: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	// The deferred wait covers the goroutines started so far, so a row
	// that fails before the watch starts still returns.
	var running sync.WaitGroup
	running.Go(func() {
		// The writer's programs inherit this thread's namespace.
		runtime.LockOSThread()
		if err := netns.Set(node.handle); err != nil {
			panic(err)
		}
		p.Run(ctx)
	})
	defer func() {
		cancel()
		running.Wait()
	}()
	sink := newWatchSink(p)
	// The server shares this process: collect what setting the cluster
	// up left, so that no collection of its heap (100,000 pods at 10,000
	// services) is owed when the row starts; a client's own process
	// holds only the services and endpoints it watches.
	runtime.GC()
	stopProfile := startProfile(t, fmt.Sprintf("proxy-%s-%d-full.cpu.prof", mode, services))
	start := time.Now()
	running.Go(func() {
		proxy.Watch(ctx, client.NewServiceSource(f.api), nil, sink)
	})
	want := services * f.perService
	gen, at, err := sink.waitFor(ctx, func(svcs []*structs.Service, eps []*structs.Endpoints) bool {
		ready := 0
		for _, e := range eps {
			ready += e.ReadyCount()
		}
		return len(svcs) == services && ready == want
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	row.FullWatchMs = ms(at.Sub(start))
	if err := p.WaitSynced(ctx, gen); err != nil {
		t.Fatalf("full sync: %v (%+v)", err, p.Status())
	}
	row.FullSyncMs = ms(time.Since(start))
	stopProfile()
	row.FullSyncProxyMs = ms(p.Status().Duration)
	if st := p.Status(); st.Err != nil {
		t.Fatalf("sync: %v", st.Err)
	}
	payload := w.LastPayload()
	row.FullBytes = len(payload)
	checkInNamespace(t, node, mode, services)

	// One endpoint: pod 2*round of the first service fails its check.
	one := []*structs.Pod{f.podOf(t, f.services[0], 2*round)}
	row.OneEndpointMs, row.OneEndpointFromReportMs, row.OneEndpointWatchMs = timeChange(t, ctx, f, p, sink, one, false)
	row.OneEndpointBytes = p.Status().Result.Bytes
	row.OneEndpointSyncMs = ms(p.Status().Duration)
	onePayload := w.LastPayload()
	// 100 services: pod 2*round+1 of each of the first 100 fails.
	var hundred []*structs.Pod
	for _, svc := range f.services[:min(100, services)] {
		hundred = append(hundred, f.podOf(t, svc, 2*round+1))
	}
	row.HundredServicesMs, row.HundredFromReportMs, _ = timeChange(t, ctx, f, p, sink, hundred, false)
	// Back to all ready for the next row (not timed).
	f.setChecks(t, append(one, hundred...), true)
	f.waitAllReady(t, time.Minute)

	row.BareRestoreMs, row.BareOneEndpointMs = bareRestore(t, mode, payload, onePayload)
	row.Ratio = row.FullSyncMs / row.BareRestoreMs
	row.OneEndpointRatio = row.OneEndpointMs / row.BareOneEndpointMs
	row.Load += " -> " + loadAvg()
	return row
}

// timeChange reports the pods' checks failing (or passing) and returns
// the ms from the endpoints controller's write of the change to the
// rules in the kernel, and from the report.
func timeChange(t *testing.T, ctx context.Context, f *proxyCluster, p *proxy.Proxy, sink *watchSink, pods []*structs.Pod, ready bool) (fromWrite, fromReport, watch float64) {
	t.Helper()
	wrote := make(chan time.Time, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		at, _ := f.storeChanged(wctx, pods, ready)
		wrote <- at
	}()
	start := time.Now()
	f.setChecks(t, pods, ready)
	gen, delivered, err := sink.waitFor(ctx, func(_ []*structs.Service, eps []*structs.Endpoints) bool {
		byID := make(map[string]*structs.Endpoints, len(eps))
		for _, e := range eps {
			byID[e.ID] = e
		}
		for _, pod := range pods {
			if !endpointIs(byID[pod.JobID], pod, ready) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	if err := p.WaitSynced(ctx, gen); err != nil {
		t.Fatalf("sync: %v (%+v)", err, p.Status())
	}
	end := time.Now()
	if st := p.Status(); st.Err != nil {
		t.Fatalf("sync: %v", st.Err)
	}
	at := <-wrote
	if at.IsZero() {
		t.Fatal("the change never reached the state store")
	}
	return ms(end.Sub(at)), ms(end.Sub(start)), ms(delivered.Sub(at))
}

// loadAvg is the machine's load average (1, 5, 15 min), as /proc has it.
func loadAvg() string {
	buf, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(buf))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}

// bareRestore times the transaction's program on full, written to a
// file, in a fresh namespace, then on partial in the same namespace.
func bareRestore(t *testing.T, mode string, full, partial []byte) (fullMs, partialMs float64) {
	ns := newBenchNS(t)
	run := func(payload []byte) float64 {
		path := filepath.Join(t.TempDir(), "rules")
		if err := os.WriteFile(path, payload, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("iptables-restore", "-w", "5", "--noflush", path)
		if mode == proxy.ModeNFTables {
			cmd = exec.Command("nft", "-f", path)
		}
		var took time.Duration
		err := ns.do(func() error {
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took = time.Since(start)
			if err != nil {
				return fmt.Errorf("%s: %v: %s", cmd, err, out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ms(took)
	}
	return run(full), run(partial)
}

// checkInNamespace makes sure the rules went into the bench's namespace.
func checkInNamespace(t *testing.T, ns *benchNS, mode string, services int) {
	args := []string{"--net=/run/netns/" + ns.name, "iptables", "-t", "nat", "-S", "MK-SERVICES"}
	if mode == proxy.ModeNFTables {
		args = []string{"--net=/run/netns/" + ns.name, "nft", "list", "map", "ip", "mk", "service-ips"}
	}
	out, err := exec.Command("nsenter", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("read the rules back: %v: %s", err, out)
	}
	if n := strings.Count(string(out), "10.96."); n < services {
		t.Fatalf("%d services in the namespace's rules, want %d", n, services)
	}
}

// benchNS is a named network namespace, removed at the end of the test.
type benchNS struct {
	name   string
	handle netns.NsHandle
}

var benchNSCount int

func newBenchNS(t *testing.T) *benchNS {
	benchNSCount++
	ns := &benchNS{name: fmt.Sprintf("mkbench%d-%d", os.Getpid(), benchNSCount)}
	errc := make(chan error, 1)
	go func() {
		// This thread ends in the new namespace; it dies with the
		// goroutine, locked.
		runtime.LockOSThread()
		h, err := netns.NewNamed(ns.name)
		ns.handle = h
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("new namespace: %v", err)
	}
	t.Cleanup(func() {
		ns.handle.Close()
		_ = netns.DeleteNamed(ns.name)
	})
	return ns
}

// do runs fn on a thread in the namespace.
func (ns *benchNS) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns.handle); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func ipOf(base, i int) string {
	v := base + i
	return fmt.Sprintf("%d.%d.%d.%d", v>>24&255, v>>16&255, v>>8&255, v&255)
}
