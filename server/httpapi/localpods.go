package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// LogSource streams a task log of a pod this agent's client runs.
type LogSource interface {
	NodeID() string
	// ResolvePod finds one of the client's pods by ID or unique ID prefix.
	ResolvePod(ref string) (string, bool)
	StreamLogs(ctx context.Context, podID, task, stream string, follow bool, w io.Writer) error
}

// SetLogSource makes this agent answer log requests for its own client's
// pods; requests for other nodes' pods are forwarded to those nodes.
func (h *HTTPServer) SetLogSource(src LogSource) { h.logs = src }

func (h *HTTPServer) logRoutes() {
	h.handle("GET /v1/pod/{id}/logs", routeLocal, h.podLogs)
}

// podLogs serves GET /v1/pod/{id}/logs?task=T&type=stdout|stderr&follow=true.
func (h *HTTPServer) podLogs(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := namespace(r)
	pod, err := resolvePod(nil, h.srv.State(), ns, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if pod.NodeID == "" {
		return nil, structs.NewBadRequest("pod %s is not placed on a node yet", pod.Name)
	}
	if h.logs != nil && h.logs.NodeID() == pod.NodeID {
		return h.localLogs(w, r, pod.ID)
	}
	node, err := h.srv.State().NodeByID(nil, pod.NodeID)
	if err != nil || node == nil {
		return nil, structs.NotFoundError("node of pod", pod.Name)
	}
	if r.Header.Get(HeaderForwarded) != "" {
		return nil, structs.NewBadRequest("pod %s is not on this node", pod.Name)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: node.Address})
			pr.Out.URL.RawQuery = r.URL.RawQuery
			pr.Out.URL.Path = "/v1/pod/" + pod.ID + "/logs"
			pr.Out.Header.Set(HeaderForwarded, h.srv.Config().NodeName)
		},
		FlushInterval: -1,
	}
	proxy.ServeHTTP(w, r)
	return nil, errHandled
}

// localLogs streams a log of a pod this agent's client runs.
func (h *HTTPServer) localLogs(w http.ResponseWriter, r *http.Request, podID string) (any, error) {
	q := r.URL.Query()
	stream := q.Get("type")
	if stream == "" {
		stream = "stdout"
	}
	follow, _ := strconv.ParseBool(q.Get("follow"))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.logs.StreamLogs(r.Context(), podID, q.Get("task"), stream, follow, w); err != nil {
		return nil, err
	}
	return nil, errHandled
}
