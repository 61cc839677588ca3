package ingress

import (
	"io"
	"net/http"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// BenchmarkProxy is one GET through the proxy to a loopback endpoint, on
// keep-alive connections from parallel clients (bench/ingress_test.go
// compares it with the endpoint alone).
func BenchmarkProxy(b *testing.B) {
	port := startBackendTB(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello\n") }))
	_, base := newTestProxyB(b, port)
	b.RunParallel(func(pb *testing.PB) {
		cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
			req.Host = "shop.local"
			resp, err := cl.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// newTestProxyB serves a proxy routing shop.local to the endpoint on port.
func newTestProxyB(b *testing.B, port int) (*Proxy, string) {
	p := New(Config{})
	svc, eps := service("web", port)
	p.SetServices([]*structs.Service{svc})
	p.SetEndpoints([]*structs.Endpoints{eps}, 1)
	p.SetIngresses([]*structs.Ingress{{ObjectMeta: structs.ObjectMeta{ID: "shop", Namespace: "default"}, Host: "shop.local",
		Rules: []*structs.IngressPath{route("/", "web", false)}}})
	if err := p.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Stop() })
	return p, "http://" + p.Addr()
}
