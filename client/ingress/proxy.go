package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/structs"
)

// Config configures a Proxy.
type Config struct {
	// OnHosts is called with the sorted host names of the routes each
	// time they change (the node DNS answers them with the node's
	// address). It must not call back into the Proxy.
	OnHosts func(hosts []string)
	// DialTimeout bounds a connection to an endpoint (default 5s): past
	// it the next endpoint is tried.
	DialTimeout time.Duration
	Logger      hclog.Logger
}

// maxTries is how many endpoints one request tries when connections are
// refused: an endpoint that just went away costs a retry, not an error.
const maxTries = 3

// Proxy is the ingress reverse proxy: an http.Handler routing by Host and
// path to services' ready endpoints. The Set methods may be called at any
// time from any goroutine; requests never wait for them.
type Proxy struct {
	config    Config
	logger    hclog.Logger
	transport *http.Transport
	rp        *httputil.ReverseProxy
	table     atomic.Pointer[Table]

	// mu guards what the next table is built from.
	mu        sync.Mutex
	ingresses []*structs.Ingress
	services  []*structs.Service
	endpoints []*structs.Endpoints
	index     uint64
	hosts     []string
	backends  map[string]bool

	srvMu  sync.Mutex
	server *http.Server
	addr   string
}

// New builds a proxy with an empty route table: every request is 404
// until the first update.
func New(config Config) *Proxy {
	if config.Logger == nil {
		config.Logger = hclog.NewNullLogger()
	}
	if config.DialTimeout <= 0 {
		config.DialTimeout = 5 * time.Second
	}
	p := &Proxy{config: config, logger: config.Logger.Named("ingress")}
	p.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: config.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &backendTransport{base: p.transport},
		FlushInterval:  -1, // streamed responses reach the client as they come
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       p.logger.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	p.table.Store(Build(nil, nil, nil, 0))
	return p
}

// SetIngresses replaces the ingresses the routes come from.
func (p *Proxy) SetIngresses(l []*structs.Ingress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ingresses = l
	p.rebuild()
}

// SetServices replaces the services the routes resolve.
func (p *Proxy) SetServices(l []*structs.Service) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services = l
	p.rebuild()
}

// SetEndpoints replaces the endpoints the routes send to; index is their
// index, which AppliedIndex reports once the table built from them is in
// place.
func (p *Proxy) SetEndpoints(l []*structs.Endpoints, index uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endpoints, p.index = l, index
	p.rebuild()
}

// AppliedIndex is the endpoints index of the route table requests use
// now: an endpoint that left the endpoints at or before it gets no new
// request from this proxy.
func (p *Proxy) AppliedIndex() uint64 { return p.table.Load().Index }

// Table is the route table in use.
func (p *Proxy) Table() *Table { return p.table.Load() }

// rebuild builds and swaps in the table; p.mu is held.
func (p *Proxy) rebuild() {
	t := Build(p.ingresses, p.services, p.endpoints, p.index)
	p.table.Store(t)
	for _, c := range t.Conflicts {
		p.logger.Warn("ingress rule ignored", "conflict", c)
	}
	routes := t.Routes()
	routesGauge.Set(float64(len(routes)))
	appliedIndex.Set(float64(t.Index))
	// Pooled connections to endpoints that left are closed: nothing
	// would reuse them.
	backends := map[string]bool{}
	for _, r := range routes {
		for _, b := range r.Backends {
			backends[b] = true
		}
	}
	for b := range p.backends {
		if !backends[b] {
			p.transport.CloseIdleConnections()
			break
		}
	}
	p.backends = backends
	if hosts := t.Hosts(); !slices.Equal(hosts, p.hosts) {
		p.hosts = hosts
		p.logger.Info("ingress hosts", "hosts", hosts, "routes", len(routes))
		if p.config.OnHosts != nil {
			p.config.OnHosts(hosts)
		}
	}
}

// request is what one proxied request carries through the reverse
// proxy's hooks.
type request struct {
	route *Route
	code  int
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// ServeHTTP routes one request: 404 when no rule matches, 503 when the
// service has no ready endpoint, else to an endpoint (502 when none
// answers).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := p.table.Load().Match(r.Host, r.URL.Path)
	if route == nil {
		observe("", "", "", http.StatusNotFound, time.Since(start))
		http.Error(w, fmt.Sprintf("no ingress route for host %q path %q", normalizeHost(r.Host), r.URL.Path), http.StatusNotFound)
		return
	}
	if len(route.Backends) == 0 {
		observe(route.label(), route.Namespace, route.Service, http.StatusServiceUnavailable, time.Since(start))
		http.Error(w, route.Reason, http.StatusServiceUnavailable)
		return
	}
	req := &request{route: route}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
	observe(route.label(), route.Namespace, route.Service, req.code, time.Since(start))
}

// rewrite makes the outbound request: the endpoint (chosen by the
// transport), the path, the client's Host kept, X-Forwarded-For (appended
// to), -Host and -Proto set.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	route := requestOf(pr.In.Context()).route
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = route.Backends[0]
	if route.StripPrefix {
		pr.Out.URL.Path = route.forwardPath(pr.In.URL.Path)
		pr.Out.URL.RawPath = ""
		pr.Out.Header.Set("X-Forwarded-Prefix", route.Path)
	}
	pr.Out.Host = pr.In.Host
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = slices.Clone(prior)
	}
	pr.SetXForwarded()
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	if req := requestOf(resp.Request.Context()); req != nil {
		req.code = resp.StatusCode
	}
	return nil
}

// errorHandler answers 502 when no endpoint answered (and the client is
// still there to hear it).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	req := requestOf(r.Context())
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		req.code = 499 // the client went away: nobody to answer
		return
	}
	req.code = http.StatusBadGateway
	p.logger.Debug("endpoint failed", "route", req.route.label(), "service", req.route.Service, "error", err)
	http.Error(w, fmt.Sprintf("service %s/%s: endpoint failed: %v", req.route.Namespace, req.route.Service, err), http.StatusBadGateway)
}

// backendTransport sends each request to the endpoints its route picks,
// the next one when a connection is refused or times out (nothing was
// sent: safe for any request whose body was not read).
type backendTransport struct{ base *http.Transport }

func (t *backendTransport) RoundTrip(out *http.Request) (*http.Response, error) {
	req := requestOf(out.Context())
	if req == nil {
		return nil, errors.New("ingress: request without a route")
	}
	var err error
	for _, addr := range req.route.pick(maxTries) {
		try := *out
		u := *out.URL
		u.Host = addr
		try.URL = &u
		var resp *http.Response
		if resp, err = t.base.RoundTrip(&try); err == nil {
			return resp, nil
		}
		if !isDialError(err) || (out.Body != nil && out.Body != http.NoBody) || out.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// isDialError reports whether err is a failure to connect.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// statusLabel is an HTTP status as a metric label.
func statusLabel(code int) string { return strconv.Itoa(code) }
