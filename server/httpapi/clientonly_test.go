package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mk-orchestrator/mk/server/httpapi"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestClientOnlyForwardsToTheNextServer: a client-only agent whose first
// server does not answer sends the request to the next one, keeps using
// it, and counts the forwarded requests in its metrics.
func TestClientOnlyForwardsToTheNextServer(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(live.Close)
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) // nothing listens
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	h := httpapi.NewClientOnly(httpapi.ClientAgentInfo{Name: "edge", HTTPAddr: addr,
		Servers: []string{dead, strings.TrimPrefix(live.URL, "http://")}}, hclog.NewNullLogger())
	if err := h.Start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	for i := 0; i < 2; i++ {
		body := get(t, "http://"+addr+"/v1/jobs", http.StatusOK)
		if body != `{"path":"/v1/jobs"}` {
			t.Fatalf("answer %q, want the live server's", body)
		}
	}
	metrics := get(t, "http://"+addr+"/v1/metrics", http.StatusOK)
	if !strings.Contains(metrics, `mk_http_requests_total{code="200",route="/"} 2`) {
		t.Fatalf("forwarded requests not counted:\n%s", metrics)
	}
}

// TestRegisterCollectors: the client's own metrics (the proxy's, the
// node DNS's) are served on /v1/metrics once registered.
func TestRegisterCollectors(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	h := httpapi.NewClientOnly(httpapi.ClientAgentInfo{Name: "edge", HTTPAddr: addr}, hclog.NewNullLogger())
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "mk_test_client_thing_total", Help: "test"})
	c.Add(3)
	h.RegisterCollectors(c)
	if err := h.Start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	if metrics := get(t, "http://"+addr+"/v1/metrics", http.StatusOK); !strings.Contains(metrics, "mk_test_client_thing_total 3") {
		t.Fatalf("registered collector not served:\n%s", metrics)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	return string(b)
}
