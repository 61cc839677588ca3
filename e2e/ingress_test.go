package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestIngress runs jobspecs/examples/ingress.hcl on the multi-host
// harness: services shop-a (two pods, /a stripped) and shop-b (one pod,
// path kept) behind the host shop.local, reached through the ingress
// proxy of every client host from the server host, and from inside a pod
// by the name shop.local through the real node DNS.
func TestIngress(t *testing.T) {
	src, err := os.ReadFile("../jobspecs/examples/ingress.hcl")
	if err != nil {
		t.Fatal(err)
	}
	m := newMultiHost(t, "iptables", 20+2*(os.Getpid()%100))
	m.runJobFile(t, "shop", string(src))
	m.runJobFile(t, "probe", probeJob)
	waitEndpointsReady(t, m, "shop-a", 2)
	waitEndpointsReady(t, m, "shop-b", 1)
	backends := map[string]map[string]bool{"a": {}, "b": {}}
	for _, p := range waitPods(t, m.API, "shop", 3, func(p *structs.Pod) bool { return running(p) && p.IP != "" }) {
		backends[p.Labels[structs.LabelGroup]][p.Labels[structs.LabelGroup]+" "+p.IP] = true
	}
	if len(backends["a"]) != 2 || len(backends["b"]) != 1 {
		t.Fatalf("pods of shop: %v, want two of group a and one of b", backends)
	}
	probe := m.podsOn(t, "probe", 1)["client-3"]
	if probe == nil {
		t.Fatal("probe pod not on client-3")
	}

	t.Run("every client host routes shop.local by path, from the server host", func(t *testing.T) {
		for _, c := range m.Clients {
			base := fmt.Sprintf("http://%s:%d", c.IP, ingressPort)
			// The client's watch takes the routes in on its own time.
			testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
				code, body, err := hostGetIn(m.Server.NS, base+"/b/", "shop.local")
				return err == nil && code == 200, fmt.Errorf("%s: %d %q %v", c.Name, code, body, err)
			})
			checkSpread(t, c.Name+" /a/", hostRequests(m.Server.NS, base+"/a/", "shop.local", 20), backends["a"], 20)
			checkSpread(t, c.Name+" /b/", hostRequests(m.Server.NS, base+"/b/", "shop.local:8080", 10), backends["b"], 10)
			if code, body, err := hostGetIn(m.Server.NS, base+"/c/", "shop.local"); err != nil || code != http.StatusNotFound {
				t.Errorf("%s: /c/ answered %d %q %v, want 404", c.Name, code, body, err)
			}
			if code, body, err := hostGetIn(m.Server.NS, base+"/a/", "other.local"); err != nil || code != http.StatusNotFound {
				t.Errorf("%s: host other.local answered %d %q %v, want 404", c.Name, code, body, err)
			}
		}
	})

	t.Run("a pod reaches shop.local by name through the node DNS and its node's ingress", func(t *testing.T) {
		c := m.client("client-3")
		if got := dig(t, c, "+short", "shop.local"); got != c.IP {
			t.Errorf("node DNS of %s: A shop.local = %q, want the node's address %s", c.Name, got, c.IP)
		}
		url := fmt.Sprintf("http://shop.local:%d", ingressPort)
		out := m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop(url+"/a/", 20))
		checkSpread(t, "pod "+probe.Name+" "+url+"/a/", lines(out), backends["a"], 20)
		out = m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop(url+"/b/", 5))
		checkSpread(t, "pod "+probe.Name+" "+url+"/b/", lines(out), backends["b"], 5)
	})

	t.Run("every client's route table reaches the endpoints' index", func(t *testing.T) {
		_, meta, err := m.API.Endpoints(structs.DefaultNamespace, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Clients {
			testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
				n, err := metricValue(c.Agent, "mk_ingress_applied_index ")
				return err == nil && uint64(n) >= meta.LastIndex, fmt.Errorf("%s: mk_ingress_applied_index %d (%v), want >= %d", c.Name, n, err, meta.LastIndex)
			})
		}
	})

	t.Run("requests are counted per route in /v1/metrics", func(t *testing.T) {
		for _, c := range m.Clients {
			n, err := ingressRequests(c.Agent, "shop.local/a", "shop-a", "200")
			if err != nil || n < 20 {
				t.Errorf("%s: mk_ingress_requests_total of shop.local/a = %d (%v), want at least the 20 sent", c.Name, n, err)
			}
		}
	})
}

// hostGetIn GETs url from the network namespace ns with the Host header
// host, on a new connection: the status and the body without its
// trailing newline.
func hostGetIn(ns, url, host string) (int, string, error) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ns, addr, 5*time.Second)
		},
	}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n"), err
}

// hostRequests GETs url with Host host n times from ns: the bodies, or
// "FAIL: ..." for a request that failed or did not answer 200.
func hostRequests(ns, url, host string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		code, body, err := hostGetIn(ns, url, host)
		switch {
		case err != nil:
			body = "FAIL: " + err.Error()
		case code != http.StatusOK:
			body = fmt.Sprintf("FAIL: %d %s", code, body)
		}
		out = append(out, body)
	}
	return out
}

// ingressRequests is the agent's mk_ingress_requests_total of a route,
// service and status code, from its /v1/metrics.
func ingressRequests(a *testutil.Agent, route, service, code string) (int, error) {
	return metricValue(a, fmt.Sprintf(`mk_ingress_requests_total{code=%q,namespace="default",route=%q,service=%q} `, code, route, service))
}

// metricValue is the value of the agent's /v1/metrics line that starts
// with prefix (a metric's name and labels, and a space).
func metricValue(a *testutil.Agent, prefix string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(a.Addr() + "/v1/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no %s in /v1/metrics (%v)", prefix, sc.Err())
}
