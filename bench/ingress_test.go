//go:build bench

package bench

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/client/ingress"
	"github.com/mk-orchestrator/mk/structs"
)

// ingressResult is bench/results/ingress.json.
type ingressResult struct {
	Concurrency   int     `json:"concurrency"`
	Backends      int     `json:"backends"`
	Seconds       int     `json:"seconds_per_side"`
	IngressRPS    float64 `json:"ingress_rps"`
	IngressP50Ms  float64 `json:"ingress_p50_ms"`
	IngressP99Ms  float64 `json:"ingress_p99_ms"`
	DirectRPS     float64 `json:"direct_rps"`
	DirectP50Ms   float64 `json:"direct_p50_ms"`
	DirectP99Ms   float64 `json:"direct_p99_ms"`
	AddedP50Ms    float64 `json:"added_p50_ms"`
	Failed        int     `json:"failed"`
	UpdatesPerSec float64 `json:"table_updates_per_second"`
}

const (
	ingressConcurrency = 16
	ingressBackends    = 3
	ingressRounds      = 5
	ingressSlice       = 2 * time.Second
)

// TestBenchIngress measures the ingress proxy (in this process, on
// loopback) in front of three HTTP endpoints against the same load sent
// to the endpoints directly: 16 keep-alive clients GET a small page as
// fast as they can, in 2 s slices that alternate between the two sides
// (10 s each), while the endpoints' list is rewritten 10 times a second
// (each rewrite rebuilds and swaps the route table). What it shows is
// the proxy's own cost per request: the extra hop and its latency.
func TestBenchIngress(t *testing.T) {
	var addrs []string
	eps := &structs.Endpoints{ObjectMeta: structs.ObjectMeta{ID: "web", Name: "web", Namespace: "default"}}
	for i := 0; i < ingressBackends; i++ {
		body := []byte("hello from " + strconv.Itoa(i) + "\n")
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
		t.Cleanup(srv.Close)
		host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		p, _ := strconv.Atoi(port)
		eps.Endpoints = append(eps.Endpoints, &structs.Endpoint{IP: host, Ports: map[string]int{"http": p}, Ready: true})
		addrs = append(addrs, srv.Listener.Addr().String())
	}
	p := ingress.New(ingress.Config{})
	p.SetServices([]*structs.Service{{ObjectMeta: eps.ObjectMeta, Ports: []*structs.ServicePort{{Name: "http", Port: 80, TargetPort: 80}}}})
	p.SetEndpoints([]*structs.Endpoints{eps}, 1)
	p.SetIngresses([]*structs.Ingress{{ObjectMeta: structs.ObjectMeta{ID: "shop", Namespace: "default"}, Host: "shop.local",
		Rules: []*structs.IngressPath{{Path: "/", Service: "web", Port: 80}}}})
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })

	stop := make(chan struct{})
	updates := 0
	var updWG sync.WaitGroup
	updWG.Add(1)
	go func() {
		defer updWG.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := uint64(2); ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				p.SetEndpoints([]*structs.Endpoints{eps}, i)
				updates++
			}
		}
	}()
	start := time.Now()
	var viaIngress, direct loadTotals
	for range ingressRounds {
		viaIngress.add(runLoad(t, []string{p.Addr()}, "shop.local"))
		direct.add(runLoad(t, addrs, ""))
	}
	close(stop)
	updWG.Wait()
	elapsed := time.Since(start)
	sortDurations(viaIngress.lat)
	sortDurations(direct.lat)
	res := ingressResult{
		Concurrency: ingressConcurrency, Backends: ingressBackends, Seconds: int(ingressRounds * ingressSlice / time.Second),
		IngressRPS: round1(viaIngress.rps()), IngressP50Ms: round3(ms(percentile(viaIngress.lat, 50))), IngressP99Ms: round3(ms(percentile(viaIngress.lat, 99))),
		DirectRPS: round1(direct.rps()), DirectP50Ms: round3(ms(percentile(direct.lat, 50))), DirectP99Ms: round3(ms(percentile(direct.lat, 99))),
		Failed:        viaIngress.failed + direct.failed,
		UpdatesPerSec: round1(float64(updates) / elapsed.Seconds()),
	}
	res.AddedP50Ms = round3(res.IngressP50Ms - res.DirectP50Ms)
	fmt.Printf("\ningress proxy: %d keep-alive clients, %d endpoints, %d s per side, route table rebuilt %.0f times/s\n",
		ingressConcurrency, ingressBackends, res.Seconds, res.UpdatesPerSec)
	printTable([]string{"path", "req/s", "p50 ms", "p99 ms", "failed"}, [][]string{
		{"via the ingress", fmt.Sprintf("%.0f", res.IngressRPS), fmt.Sprintf("%.3f", res.IngressP50Ms), fmt.Sprintf("%.3f", res.IngressP99Ms), fmt.Sprint(viaIngress.failed)},
		{"direct", fmt.Sprintf("%.0f", res.DirectRPS), fmt.Sprintf("%.3f", res.DirectP50Ms), fmt.Sprintf("%.3f", res.DirectP99Ms), fmt.Sprint(direct.failed)},
	})
	if res.Failed > 0 {
		t.Errorf("%d requests failed", res.Failed)
	}
	writeResults(t, "ingress", res)
}

// loadTotals adds up the slices of one side.
type loadTotals struct {
	n, failed int
	took      time.Duration
	lat       []time.Duration
}

func (l *loadTotals) add(o loadTotals) {
	l.n += o.n
	l.failed += o.failed
	l.took += o.took
	l.lat = append(l.lat, o.lat...)
}

func (l *loadTotals) rps() float64 { return float64(l.n) / l.took.Seconds() }

// runLoad runs ingressConcurrency clients for one slice, client i on
// addrs[i%len(addrs)], each GET with Host host when set.
func runLoad(t *testing.T, addrs []string, host string) loadTotals {
	t.Helper()
	var mu sync.Mutex
	var total loadTotals
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(ingressSlice)
	for i := range ingressConcurrency {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer cl.CloseIdleConnections()
			var local loadTotals
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
				if host != "" {
					req.Host = host
				}
				sent := time.Now()
				resp, err := cl.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				local.lat = append(local.lat, time.Since(sent))
				local.n++
				if err != nil {
					local.failed++
				}
			}
			mu.Lock()
			total.add(local)
			mu.Unlock()
		}(addrs[i%len(addrs)])
	}
	wg.Wait()
	total.took = time.Since(start)
	return total
}
