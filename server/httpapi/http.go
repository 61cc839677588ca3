// Package httpapi serves mk's HTTP API (/v1/...) of an agent: JSON in and
// out, blocking queries, forwarding to the leader, typed errors mapped to
// status codes, and Prometheus metrics. A server answers the whole API; a
// client-only agent answers for its own pods and forwards the rest to the
// servers (clientonly.go).
package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	memdb "github.com/hashicorp/go-memdb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// Header names.
const (
	HeaderIndex     = "X-Mk-Index"
	HeaderForwarded = "X-Mk-Forwarded-By"
	// maxBodyBytes bounds request bodies; a job file is far smaller.
	maxBodyBytes = 8 << 20
	maxWait      = 5 * time.Minute
)

// routeKind says how a route is served with respect to the leader.
type routeKind int

const (
	// routeLocal is answered by the receiving agent itself.
	routeLocal routeKind = iota
	// routeRead is answered by the leader (consistent) or locally (?stale).
	routeRead
	// routeWrite always runs on the leader.
	routeWrite
	// routeForwarded is always forwarded (a client-only agent's routes
	// that the servers answer).
	routeForwarded
)

// errHandled is returned by handlers that wrote the response themselves.
var errHandled = errors.New("response written by handler")

// handlerFunc returns a value to encode as JSON, or an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// HTTPServer serves the API of one agent.
type HTTPServer struct {
	srv      *server.Server
	logger   hclog.Logger
	mux      *http.ServeMux
	registry *prometheus.Registry
	metrics  *httpMetrics
	forward  *forwarder
	httpSrv  *http.Server
	ln       net.Listener
	// local answers for the pods of this agent's client (unset without
	// one; set while serving); nodeTransport carries the requests for
	// other nodes' pods.
	local         atomic.Pointer[LocalPods]
	nodeTransport *http.Transport
	// eventHeartbeat is how often a quiet event stream sends {} (0:
	// defaultEventHeartbeat).
	eventHeartbeat time.Duration
}

// New builds the API handler for a server; Start serves it.
func New(srv *server.Server, logger hclog.Logger) *HTTPServer {
	h := &HTTPServer{
		srv:      srv,
		logger:   logger.Named("http"),
		mux:      http.NewServeMux(),
		registry: prometheus.NewRegistry(),
		metrics:  newHTTPMetrics(),

		nodeTransport: newNodeTransport(),
	}
	h.forward = newLeaderForwarder(srv, h.writeError)
	h.registry.MustRegister(server.Collectors()...)
	h.registry.MustRegister(h.metrics.collectors()...)
	h.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h.routes()
	return h
}

// EnableDebug serves Go's profiler under /debug/pprof/ (agent config
// enable_debug = true). Off by default: profiles reveal internals.
func (h *HTTPServer) EnableDebug() {
	h.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	h.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	h.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	h.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Handler returns the API's http.Handler.
func (h *HTTPServer) Handler() http.Handler { return h.mux }

// Start listens on addr and serves in the background.
func (h *HTTPServer) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", addr, err)
	}
	h.ln = ln
	h.httpSrv = &http.Server{Handler: h.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := h.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.logger.Error("http server stopped", "error", err)
		}
	}()
	return nil
}

// Addr is the address the API listens on.
func (h *HTTPServer) Addr() string { return h.ln.Addr().String() }

// Shutdown stops serving, closing open connections.
func (h *HTTPServer) Shutdown() {
	if h.httpSrv != nil {
		_ = h.httpSrv.Close()
	}
}

// handle registers fn for a method+path pattern with metrics, panic
// recovery and leader routing according to kind.
func (h *HTTPServer) handle(pattern string, kind routeKind, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				h.metrics.panics.Inc()
				h.logger.Error("panic serving request", "route", pattern, "panic", p, "stack", string(debug.Stack()))
				h.writeError(rec, fmt.Errorf("internal error: %v", p))
			}
			h.metrics.observe(pattern, rec.code, time.Since(start))
		}()
		if h.shouldForward(r, kind) {
			h.forward.serve(rec, r)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
		out, err := fn(rec, r)
		if errors.Is(err, errHandled) {
			return
		}
		if err != nil {
			h.writeError(rec, err)
			return
		}
		if r.Context().Err() != nil {
			// The caller went (a watch's blocking query ends with the
			// latest answer when its client disconnects): encoding the
			// answer would be work for no one, and a client that stops
			// with many watches open made the server encode them all.
			rec.code = statusClientClosed
			return
		}
		writeAnswer(rec, r, out)
	})
}

// statusClientClosed is the status the metrics record for a request whose
// caller went before its answer (nginx's 499; nothing is sent).
const statusClientClosed = 499

func (h *HTTPServer) shouldForward(r *http.Request, kind routeKind) bool {
	switch kind {
	case routeForwarded:
		return true
	case routeWrite:
		return !h.srv.IsLeader()
	case routeRead:
		return !isStale(r) && !h.srv.IsLeader()
	}
	return false
}

func isStale(r *http.Request) bool {
	_, ok := r.URL.Query()["stale"]
	return ok
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Pos   string `json:"pos,omitempty"`
}

// statusFor maps an error kind to its HTTP status. It is the only place
// that does.
func statusFor(err error) int {
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, structs.ErrBadRequest), errors.As(err, &maxBytes):
		return http.StatusBadRequest
	case errors.Is(err, structs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, structs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, structs.ErrIndexConflict), errors.Is(err, structs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, structs.ErrNoLeader), errors.Is(err, structs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, structs.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, structs.ErrGone):
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

func (h *HTTPServer) writeError(w http.ResponseWriter, err error) {
	code := statusFor(err)
	body := errorBody{Error: err.Error()}
	if ve := structs.FirstValidationError(err); ve != nil {
		body.Field, body.Pos = ve.FieldPath(), ve.Pos
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if code == http.StatusInternalServerError {
		h.logger.Error("request failed", "error", err)
	}
	writeJSON(w, code, body)
}

// writeAnswer writes a handler's answer in JSON, or in msgpack to a
// request that accepts only that (agents' large watches).
func writeAnswer(w http.ResponseWriter, r *http.Request, v any) {
	if r.Header.Get("Accept") != structs.ContentTypeMsgpack {
		writeJSON(w, http.StatusOK, v)
		return
	}
	// Streamed: these answers run to tens of MB, and growing one buffer
	// to hold them showed in the proxy benchmark's profile. Our own types
	// always encode, so the status need not wait for the end.
	w.Header().Set("Content-Type", structs.ContentTypeMsgpack)
	w.WriteHeader(http.StatusOK)
	_ = structs.NewStreamEncoder(w).Encode(v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		code, buf = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	buf = append(buf, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(code)
	_, _ = w.Write(buf)
}

// decodeBody reads a JSON request body into out; unknown fields are errors.
func decodeBody(r *http.Request, out any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return structs.NewBadRequest("invalid JSON body: %v", err)
	}
	return nil
}

// namespace returns the request's namespace (default "default").
func namespace(r *http.Request) string {
	return structs.NamespaceOrDefault(r.URL.Query().Get("namespace"))
}

// queryOptions are the blocking parameters ?index=N&wait=D.
type queryOptions struct {
	minIndex uint64
	wait     time.Duration
}

func parseQueryOptions(r *http.Request) (queryOptions, error) {
	var q queryOptions
	v := r.URL.Query()
	if s := v.Get("index"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, &structs.ValidationError{Field: "index", Msg: fmt.Sprintf("must be a non-negative integer, got %q", s)}
		}
		q.minIndex = n
		q.wait = maxWait
	}
	if s := v.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return q, &structs.ValidationError{Field: "wait", Msg: fmt.Sprintf("must be a duration such as \"30s\", got %q", s)}
		}
		q.wait = min(d, maxWait)
	}
	return q, nil
}

// blockingRead runs a query consistently (unless ?stale), blocking while
// ?index=N is not passed, and sets the index header.
func (h *HTTPServer) blockingRead(w http.ResponseWriter, r *http.Request, fn state.QueryFn) (any, error) {
	q, err := parseQueryOptions(r)
	if err != nil {
		return nil, err
	}
	if !isStale(r) {
		if err := h.srv.ConsistentRead(); err != nil {
			return nil, err
		}
	}
	res, index, err := state.BlockingQuery(r.Context(), h.srv.State, q.minIndex, q.wait, fn)
	if err != nil {
		return nil, err
	}
	w.Header().Set(HeaderIndex, strconv.FormatUint(index, 10))
	return res, nil
}

// tableRead is a QueryFn over one table that reports the table's index.
func tableRead(table string, read func(ws memdb.WatchSet, st *state.StateStore) (any, error)) state.QueryFn {
	return func(ws memdb.WatchSet, st *state.StateStore) (any, uint64, error) {
		out, err := read(ws, st)
		return out, st.Index(table), err
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack takes over the connection (a WebSocket: a streaming exec, served
// here or proxied to the pod's node); it is counted as switching
// protocols unless a status was written before.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && !s.wroteHeader {
		s.code, s.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController the writer underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
