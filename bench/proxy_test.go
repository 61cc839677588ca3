//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/structs"
)

// proxyRow is one line of bench/results/proxy.json.
type proxyRow struct {
	Mode                string  `json:"mode"`
	Services            int     `json:"services"`
	EndpointsPerService int     `json:"endpoints_per_service"`
	FullSyncMs          float64 `json:"full_sync_ms"`
	OneEndpointMs       float64 `json:"one_endpoint_ms"`
	HundredServicesMs   float64 `json:"hundred_services_ms"`
	// BareRestoreMs is iptables-restore / nft -f of the full sync's
	// transaction, written to a file, into a fresh namespace; Ratio is
	// FullSyncMs over it.
	BareRestoreMs float64 `json:"bare_restore_ms"`
	Ratio         float64 `json:"ratio"`
	// BareOneEndpointMs is the same program on the one-endpoint change's
	// transaction, applied after the bare restore: the floor of a partial
	// sync with this tool; OneEndpointRatio is OneEndpointMs over it.
	BareOneEndpointMs float64 `json:"bare_one_endpoint_ms"`
	OneEndpointRatio  float64 `json:"one_endpoint_ratio"`
	// The transaction sizes: the full sync's, the one-endpoint change's.
	FullBytes        int `json:"full_bytes"`
	OneEndpointBytes int `json:"one_endpoint_bytes"`
}

// TestBenchProxy times the service proxy's syncs on one node, in a
// fresh network namespace per row, with updates fed to Proxy.Update: the
// first (full) sync of N services × 10 endpoints, a change of one
// endpoint, and a change of one endpoint in each of 100 services; and, in
// another fresh namespace, a bare restore of the full sync's rule file.
// Times are from Update to the rules being in the kernel.
// MK_BENCH_PROXY_SIZES ("1000,10000") and MK_BENCH_PROXY_MODES
// ("iptables,nftables") pick the rows. A full iptables-restore of 10,000
// services (110,000 chains through iptables-nft) can take many minutes.
func TestBenchProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes network namespaces")
	}
	sizes := []int{1000, 10000}
	if s := os.Getenv("MK_BENCH_PROXY_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("MK_BENCH_PROXY_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	modes := []string{proxy.ModeIPTables, proxy.ModeNFTables}
	if s := os.Getenv("MK_BENCH_PROXY_MODES"); s != "" {
		modes = strings.Split(s, ",")
	}
	var rows []proxyRow
	var table [][]string
	for _, n := range sizes {
		for _, mode := range modes {
			r := benchProxyRow(t, mode, n, 10)
			rows = append(rows, r)
			table = append(table, []string{r.Mode, strconv.Itoa(r.Services), strconv.Itoa(r.EndpointsPerService),
				fmt.Sprintf("%.1f", r.FullSyncMs), fmt.Sprintf("%.1f", r.OneEndpointMs), fmt.Sprintf("%.1f", r.HundredServicesMs),
				fmt.Sprintf("%.1f", r.BareRestoreMs), fmt.Sprintf("%.2f", r.Ratio),
				fmt.Sprintf("%.1f", r.BareOneEndpointMs), fmt.Sprintf("%.2f", r.OneEndpointRatio), strconv.Itoa(r.FullBytes), strconv.Itoa(r.OneEndpointBytes)})
		}
	}
	printTable([]string{"mode", "services", "eps/svc", "full ms", "1 endpoint ms", "100 services ms", "bare restore ms", "mk/bare", "bare 1 endpoint ms", "mk/bare 1 endpoint", "full bytes", "1 endpoint bytes"}, table)
	writeResults(t, "proxy", rows)
}

// benchProxyRow measures one mode at one size.
func benchProxyRow(t *testing.T, mode string, services, perService int) proxyRow {
	row := proxyRow{Mode: mode, Services: services, EndpointsPerService: perService}
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
	p := proxy.New(proxy.Config{Writer: w, Node: proxy.NodeInfo{PodCIDRPool: structs.DefaultPodCIDRPool, LocalhostNodePorts: true},
		MinSyncPeriod: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The writer's programs inherit this thread's namespace.
		runtime.LockOSThread()
		if err := netns.Set(node.handle); err != nil {
			panic(err)
		}
		p.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	svcs, eps := proxyFixture(services, perService)
	row.FullSyncMs = timeUpdate(t, p, svcs, eps)
	payload := w.LastPayload()
	row.FullBytes = len(payload)
	checkInNamespace(t, node, mode, services)

	eps = changeEndpoints(eps, 1, 1)
	row.OneEndpointMs = timeUpdate(t, p, svcs, eps)
	row.OneEndpointBytes = p.Status().Result.Bytes
	onePayload := w.LastPayload()
	eps = changeEndpoints(eps, 100, 2)
	row.HundredServicesMs = timeUpdate(t, p, svcs, eps)

	row.BareRestoreMs, row.BareOneEndpointMs = bareRestore(t, mode, payload, onePayload)
	row.Ratio = row.FullSyncMs / row.BareRestoreMs
	row.OneEndpointRatio = row.OneEndpointMs / row.BareOneEndpointMs
	return row
}

// timeUpdate feeds one update and returns the ms until it is synced.
func timeUpdate(t *testing.T, p *proxy.Proxy, svcs []*structs.Service, eps []*structs.Endpoints) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	if err := p.WaitSynced(ctx, p.Update(svcs, eps)); err != nil {
		t.Fatalf("sync: %v (%+v)", err, p.Status())
	}
	took := time.Since(start)
	if st := p.Status(); st.Err != nil {
		t.Fatalf("sync: %v", st.Err)
	}
	return ms(took)
}

// proxyFixture is n services with one port each and perService ready
// endpoints each, every endpoint its own IP.
func proxyFixture(n, perService int) ([]*structs.Service, []*structs.Endpoints) {
	var svcs []*structs.Service
	var eps []*structs.Endpoints
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		meta := structs.ObjectMeta{ID: name, Name: name, Namespace: "default"}
		svcs = append(svcs, &structs.Service{ObjectMeta: meta, ClusterIP: ipOf(10<<24|96<<16, i+1),
			Ports: []*structs.ServicePort{{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080}}})
		e := &structs.Endpoints{ObjectMeta: meta}
		for j := 0; j < perService; j++ {
			e.Endpoints = append(e.Endpoints, &structs.Endpoint{PodName: fmt.Sprintf("%s-%d", name, j),
				IP: ipOf(10<<24|42<<16, i*perService+j+1), Ready: true})
		}
		eps = append(eps, e)
	}
	return svcs, eps
}

func ipOf(base, i int) string {
	v := base + i
	return fmt.Sprintf("%d.%d.%d.%d", v>>24&255, v>>16&255, v>>8&255, v&255)
}

// changeEndpoints returns eps with the first endpoint of the first k
// services moved to a new address (round tells the calls apart).
func changeEndpoints(eps []*structs.Endpoints, k, round int) []*structs.Endpoints {
	out := append([]*structs.Endpoints(nil), eps...)
	for i := 0; i < k; i++ {
		e := *out[i]
		e.Endpoints = append([]*structs.Endpoint(nil), e.Endpoints...)
		moved := *e.Endpoints[0]
		moved.IP = ipOf(10<<24|43<<16, round<<12|i)
		e.Endpoints[0] = &moved
		out[i] = &e
	}
	return out
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
