package httpapi

import (
	"net/http"
	"runtime"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/version"
)

// ClientAgentInfo describes a client-only agent for GET /v1/agent/self.
type ClientAgentInfo struct {
	Name       string
	Datacenter string
	DataDir    string
	HTTPAddr   string
	SerfAddr   string
	Servers    []string
}

// NewClientOnly builds the API of an agent that runs only the client
// role. It answers for its own pods (their logs, exec and stats), its
// metrics and /v1/agent/self, and forwards everything else to one of
// servers (HTTP host:port), trying the next when one does not answer.
// SetLocalPods must be called before Start.
func NewClientOnly(info ClientAgentInfo, logger hclog.Logger) *HTTPServer {
	h := &HTTPServer{
		logger:   logger.Named("http"),
		mux:      http.NewServeMux(),
		registry: prometheus.NewRegistry(),
		metrics:  newHTTPMetrics(),
	}
	h.forward = newServersForwarder(info.Servers, h.writeError)
	h.registry.MustRegister(h.metrics.collectors()...)
	h.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h.localPodRoutes(h.clientPod)
	h.handle("GET /v1/agent/self", routeLocal, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return clientAgentSelf(info, h.localPods()), nil
	})
	h.mux.Handle("GET /v1/metrics", promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{}))
	// Everything else goes to the servers, counted under route "/".
	h.handle("/", routeForwarded, nil)
	return h
}

// clientPod serves a pod route for a pod of this agent's client and
// forwards the others to the servers, which send them on to the pod's
// node. A request a server sent here for a pod that is not here fails
// rather than going round again.
func (h *HTTPServer) clientPod(_ string, local localHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		ref := r.PathValue("id")
		if lp := h.localPods(); lp != nil {
			if id, ok := lp.ResolvePod(ref); ok {
				return local(w, r, id)
			}
		}
		if r.Header.Get(HeaderForwarded) != "" {
			return nil, structs.NewBadRequest("pod %s is not on this node", ref)
		}
		h.forward.serve(w, r)
		return nil, errHandled
	}
}

func clientAgentSelf(info ClientAgentInfo, src LocalPods) map[string]any {
	nodeID := ""
	if src != nil {
		nodeID = src.NodeID()
	}
	return map[string]any{
		"Config": map[string]any{
			"Name": info.Name, "Datacenter": info.Datacenter, "DataDir": info.DataDir,
			"HTTPAddr": info.HTTPAddr, "SerfAddr": info.SerfAddr, "Servers": info.Servers,
			"Server": false, "Client": true, "NodeID": nodeID,
		},
		"Stats":   map[string]any{"runtime": map[string]any{"goroutines": runtime.NumGoroutine(), "version": runtime.Version()}},
		"Version": version.Version,
	}
}
