package httpapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// LocalPods answers for the pods of this agent's own client: their logs,
// exec and stats. Every method may be called from many requests at once.
type LocalPods interface {
	// NodeID is the client's node ID.
	NodeID() string
	// ResolvePod finds one of the client's pods by ID or unique ID prefix.
	ResolvePod(ref string) (string, bool)
	// StreamLogs copies a task's stdout or stderr log to w, from the
	// start or, with tail > 0, from the start of its last tail lines,
	// following it until ctx ends when follow is set.
	StreamLogs(ctx context.Context, podID, task, stream string, follow bool, tail int, w io.Writer) error
	// ExecTask runs cmd in a running task's environment.
	ExecTask(ctx context.Context, podID, task string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error)
	// CheckExecStreaming reports why ExecTaskStreaming in a task would
	// fail before it runs anything, or nil when it can start now.
	CheckExecStreaming(podID, task string) error
	// ExecTaskStreaming runs a command in a running task's environment
	// with its input and output streamed until it exits or ctx ends,
	// which kills it; it returns the command's exit code.
	ExecTaskStreaming(ctx context.Context, podID, task string, opts *drivers.ExecStreamOptions) (int, error)
	// PodStats samples the resource use of the pod's running tasks.
	PodStats(ctx context.Context, podID string) (*structs.PodStats, error)
}

// SetLocalPods makes this agent answer pod logs, exec and stats for its
// own client's pods; requests for other nodes' pods are forwarded to those
// nodes. Call it before the client starts its pods; it may be called while
// the API serves.
func (h *HTTPServer) SetLocalPods(p LocalPods) { h.local.Store(&p) }

// localPods returns what SetLocalPods set, or nil.
func (h *HTTPServer) localPods() LocalPods {
	if p := h.local.Load(); p != nil {
		return *p
	}
	return nil
}

// localHandler serves a pod route for a pod of this agent's client, given
// the pod's full ID.
type localHandler func(w http.ResponseWriter, r *http.Request, podID string) (any, error)

// localPodRoutes registers the routes that the agent running the pod
// answers; via says how a request reaches that agent.
func (h *HTTPServer) localPodRoutes(via func(action string, local localHandler) handlerFunc) {
	h.handle("GET /v1/pod/{id}/logs", routeLocal, via("logs", h.localLogs))
	h.handle("POST /v1/pod/{id}/exec", routeLocal, via("exec", h.localExec))
	h.handle("GET /v1/pod/{id}/exec", routeLocal, via("exec", h.localExecStream))
	h.handle("GET /v1/pod/{id}/stats", routeLocal, via("stats", h.localStats))
}

// onPodNode is how a server serves a pod route: locally when the pod runs
// on this agent's own client, otherwise forwarded to the HTTP address of
// the pod's node. A request forwarded here for a pod that is not here
// fails rather than going round again.
func (h *HTTPServer) onPodNode(action string, local localHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		pod, err := resolvePod(nil, h.srv.State(), namespace(r), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		if pod.NodeID == "" {
			return nil, structs.NewConflict("pod %s is not placed on a node yet", pod.Name)
		}
		if lp := h.localPods(); lp != nil && lp.NodeID() == pod.NodeID {
			return local(w, r, pod.ID)
		}
		if r.Header.Get(HeaderForwarded) != "" {
			return nil, structs.NewBadRequest("pod %s is not on this node", pod.Name)
		}
		node, err := h.srv.State().NodeByID(nil, pod.NodeID)
		if err != nil || node == nil {
			return nil, structs.NotFoundError("node of pod", pod.Name)
		}
		h.proxyToNode(w, r, node, "/v1/pod/"+pod.ID+"/"+action)
		return nil, errHandled
	}
}

// proxyToNode sends a request on to a client node's HTTP API at path,
// marked as forwarded, streaming the answer back as it comes.
func (h *HTTPServer) proxyToNode(w http.ResponseWriter, r *http.Request, node *structs.Node, path string) {
	target := &url.URL{Scheme: "http", Host: node.Address}
	if u, err := url.Parse(node.Address); err == nil && u.Scheme != "" && u.Host != "" {
		target = &url.URL{Scheme: u.Scheme, Host: u.Host} // an address given as a URL
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.URL.RawQuery = r.URL.RawQuery
			pr.Out.Header.Set(HeaderForwarded, h.srv.Config().NodeName)
		},
		Transport:     h.nodeTransport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away
			}
			h.writeError(w, fmt.Errorf("%w: node %s at %s: %v", structs.ErrUnavailable, node.Name, node.Address, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// newNodeTransport is the transport to client nodes. A node that is down
// fails the dial within seconds; there is no response header timeout: a
// followed log sends nothing until the task writes.
func newNodeTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second}
}

// RegisterCollectors adds the agent's client metrics (its service proxy's
// and node DNS's) to /v1/metrics.
func (h *HTTPServer) RegisterCollectors(cs ...prometheus.Collector) { h.registry.MustRegister(cs...) }
