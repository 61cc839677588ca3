package ingress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mk-orchestrator/mk/structs"
)

// backend is an endpoint of a test service: an HTTP server on loopback.
type backend struct {
	name string
	port int
}

// startBackend serves h on a free loopback port until the test ends.
func startBackend(t *testing.T, name string, h http.Handler) backend {
	t.Helper()
	return backend{name: name, port: startBackendTB(t, h)}
}

// startBackendTB serves h on a free loopback port until the test or
// benchmark ends, and returns the port.
func startBackendTB(t testing.TB, h http.Handler) int {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

// refusingPort is a loopback port nothing listens on.
func refusingPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// echo answers with its name, the path it got and the headers the
// ingress sets.
func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s host=%s xff=%s xfh=%s xfp=%s prefix=%s", name, r.URL.Path, r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Forwarded-Prefix"))
	})
}

// service is a service named name on port 80 whose ready endpoints are
// the ports (on 127.0.0.1), as a host-network pod's would be.
func service(name string, ports ...int) (*structs.Service, *structs.Endpoints) {
	meta := structs.ObjectMeta{ID: name, Name: name, Namespace: "default"}
	svc := &structs.Service{ObjectMeta: meta, Ports: []*structs.ServicePort{{Name: "http", Port: 80, TargetPort: 80}}}
	eps := &structs.Endpoints{ObjectMeta: meta}
	for _, p := range ports {
		eps.Endpoints = append(eps.Endpoints, &structs.Endpoint{IP: "127.0.0.1", Ports: map[string]int{"http": p}, Ready: true})
	}
	return svc, eps
}

// route is an ingress rule of host shop.local to service on port 80.
func route(path, service string, strip bool) *structs.IngressPath {
	return &structs.IngressPath{Path: path, Service: service, Port: 80, StripPrefix: strip}
}

// newTestProxy serves a proxy with one ingress of host shop.local and the
// given services until the test ends; it returns the proxy's URL.
func newTestProxy(t *testing.T, rules []*structs.IngressPath, svcs ...func() (*structs.Service, *structs.Endpoints)) (*Proxy, string) {
	t.Helper()
	p := New(Config{})
	var services []*structs.Service
	var endpoints []*structs.Endpoints
	for _, s := range svcs {
		svc, eps := s()
		services, endpoints = append(services, svc), append(endpoints, eps)
	}
	p.SetServices(services)
	p.SetEndpoints(endpoints, 42)
	p.SetIngresses([]*structs.Ingress{{ObjectMeta: structs.ObjectMeta{ID: "shop", Namespace: "default"}, Host: "shop.local", Rules: rules}})
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p, "http://" + p.Addr()
}

// get sends a GET for path with Host shop.local and returns the status
// and body.
func get(t *testing.T, base, host, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestProxyRoutes(t *testing.T) {
	a := startBackend(t, "a", echo("a"))
	b := startBackend(t, "b", echo("b"))
	root := startBackend(t, "root", echo("root"))
	svc := func(name string, ports ...int) func() (*structs.Service, *structs.Endpoints) {
		return func() (*structs.Service, *structs.Endpoints) { return service(name, ports...) }
	}
	p, base := newTestProxy(t, []*structs.IngressPath{route("/", "root", false), route("/a", "a", true), route("/b", "b", false),
		route("/none", "empty", false), route("/refused", "gone", false)},
		svc("a", a.port), svc("b", b.port), svc("root", root.port), svc("empty"), svc("gone", refusingPort(t)))
	if got := p.AppliedIndex(); got != 42 {
		t.Errorf("AppliedIndex() = %d, want 42", got)
	}
	before := testutil.ToFloat64(requests.WithLabelValues("shop.local/a", "default", "a", "200"))
	cases := []struct {
		name, host, path string
		header           []string
		code             int
		body             string
	}{
		{"strip prefix", "shop.local:8080", "/a/x?q=1", nil, 200,
			"a /x host=shop.local:8080 xff=127.0.0.1 xfh=shop.local:8080 xfp=http prefix=/a"},
		{"strip prefix, the prefix alone", "shop.local", "/a", nil, 200,
			"a / host=shop.local xff=127.0.0.1 xfh=shop.local xfp=http prefix=/a"},
		{"path kept, X-Forwarded-For appended", "SHOP.LOCAL", "/b/y", []string{"X-Forwarded-For", "192.0.2.1"}, 200,
			"b /b/y host=SHOP.LOCAL xff=192.0.2.1, 127.0.0.1 xfh=SHOP.LOCAL xfp=http prefix="},
		{"longest prefix by path element", "shop.local", "/bx", nil, 200,
			"root /bx host=shop.local xff=127.0.0.1 xfh=shop.local xfp=http prefix="},
		{"no route for the host", "other.local", "/a", nil, 404, `no ingress route for host "other.local" path "/a"`},
		{"no ready endpoints", "shop.local", "/none", nil, 503, "service default/empty has no ready endpoints"},
		{"endpoint refuses", "shop.local", "/refused", nil, 502, "service default/gone: endpoint failed: dial tcp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, base, c.host, c.path, c.header...)
			if code != c.code || !strings.HasPrefix(body, c.body) {
				t.Errorf("GET %s%s: %d %q, want %d %q", c.host, c.path, code, body, c.code, c.body)
			}
		})
	}
	if got := testutil.ToFloat64(requests.WithLabelValues("shop.local/a", "default", "a", "200")) - before; got != 2 {
		t.Errorf("mk_ingress_requests_total of shop.local/a grew by %v, want 2", got)
	}
	for _, l := range [][]string{{"", "", "", "404"}, {"shop.local/none", "default", "empty", "503"}, {"shop.local/refused", "default", "gone", "502"}} {
		if testutil.ToFloat64(requests.WithLabelValues(l...)) == 0 {
			t.Errorf("mk_ingress_requests_total%v not counted", l)
		}
	}
	if n := testutil.CollectAndCount(latency, "mk_ingress_request_seconds"); n < 5 {
		t.Errorf("mk_ingress_request_seconds has %d series, want one per route used", n)
	}
}

// A refused connection is retried on the next endpoint: an endpoint that
// just went away costs no failed request.
func TestProxyRetriesRefusedEndpoint(t *testing.T) {
	ok := startBackend(t, "ok", echo("ok"))
	_, base := newTestProxy(t, []*structs.IngressPath{route("/", "web", false)}, func() (*structs.Service, *structs.Endpoints) {
		return service("web", refusingPort(t), ok.port)
	})
	for i := 0; i < 10; i++ {
		if code, body := get(t, base, "shop.local", "/"); code != 200 || !strings.HasPrefix(body, "ok /") {
			t.Fatalf("request %d: %d %q, want 200 from the endpoint that listens", i, code, body)
		}
	}
}

func TestProxyWebSocket(t *testing.T) {
	ws := startBackend(t, "ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo "), msg...)); err != nil {
				return
			}
		}
	}))
	_, base := newTestProxy(t, []*structs.IngressPath{route("/ws", "ws", true)}, func() (*structs.Service, *structs.Endpoints) {
		return service("ws", ws.port)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws/chat", &websocket.DialOptions{Host: "shop.local"})
	if err != nil {
		t.Fatalf("dial through the ingress: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake %d, want 101", resp.StatusCode)
	}
	for _, msg := range []string{"one", "two"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo "+msg {
			t.Errorf("got %q, want %q", got, "echo "+msg)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// A streamed response reaches the client part by part: the backend sends
// its second part only once the client read the first through the proxy.
func TestProxyStreaming(t *testing.T) {
	readFirst := make(chan struct{})
	stream := startBackend(t, "stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-readFirst:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
		fmt.Fprintln(w, "second")
	}))
	_, base := newTestProxy(t, []*structs.IngressPath{route("/", "stream", false)}, func() (*structs.Service, *structs.Endpoints) {
		return service("stream", stream.port)
	})
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	req.Host = "shop.local"
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || sc.Text() != "first" {
		t.Fatalf("first part: %q (%v), want it before the backend sends the second", sc.Text(), sc.Err())
	}
	close(readFirst)
	if !sc.Scan() || sc.Text() != "second" {
		t.Fatalf("second part: %q (%v)", sc.Text(), sc.Err())
	}
}

// The route table follows its inputs, and the host names go to OnHosts
// when they change.
func TestProxyUpdates(t *testing.T) {
	var hosts [][]string
	p := New(Config{OnHosts: func(h []string) { hosts = append(hosts, h) }})
	svc, eps := service("web", 8080)
	p.SetServices([]*structs.Service{svc})
	p.SetEndpoints([]*structs.Endpoints{eps}, 7)
	if r := p.Table().Match("shop.local", "/"); r != nil {
		t.Fatalf("a route before any ingress: %+v", r)
	}
	p.SetIngresses([]*structs.Ingress{{ObjectMeta: structs.ObjectMeta{ID: "shop", Namespace: "default"}, Host: "shop.local",
		Rules: []*structs.IngressPath{route("/", "web", false)}}})
	if r := p.Table().Match("shop.local", "/"); r == nil || len(r.Backends) != 1 {
		t.Fatalf("route after the ingress: %+v", r)
	}
	eps2 := *eps
	eps2.Endpoints = nil
	p.SetEndpoints([]*structs.Endpoints{&eps2}, 9)
	if r := p.Table().Match("shop.local", "/"); r == nil || len(r.Backends) != 0 || p.AppliedIndex() != 9 {
		t.Fatalf("after the endpoint left: %+v at index %d, want no backends at 9", r, p.AppliedIndex())
	}
	p.SetIngresses(nil)
	if fmt.Sprint(hosts) != "[[shop.local] []]" {
		t.Errorf("OnHosts calls %v, want [shop.local] then none", hosts)
	}
}
