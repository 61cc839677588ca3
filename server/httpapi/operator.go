package httpapi

import (
	"io"
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/version"
)

func (h *HTTPServer) operatorRoutes() {
	h.handle("GET /v1/status/leader", routeLocal, h.statusLeader)
	h.handle("GET /v1/status/peers", routeLocal, h.statusPeers)
	h.handle("GET /v1/agent/members", routeLocal, h.agentMembers)
	h.handle("GET /v1/agent/self", routeLocal, h.agentSelf)
	h.handle("GET /v1/operator/raft/configuration", routeRead, h.raftConfiguration)
	h.handle("DELETE /v1/operator/raft/peer", routeWrite, h.raftRemovePeer)
	h.handle("GET /v1/operator/snapshot", routeRead, h.snapshotSave)
	h.handle("PUT /v1/operator/snapshot", routeWrite, h.snapshotRestore)
	h.handle("POST /v1/operator/snapshot", routeWrite, h.snapshotRestore)
	h.handle("PUT /v1/system/gc", routeWrite, h.systemGC)
	metrics := promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{})
	h.mux.Handle("GET /v1/metrics", metrics)
}

// systemGC runs the leader's garbage collection now (mk system gc).
func (h *HTTPServer) systemGC(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := h.srv.ForceGC(); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

// statusLeader answers the leader's Raft address as a JSON string ("" when
// there is none).
func (h *HTTPServer) statusLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	addr, _ := h.srv.Leader()
	return addr, nil
}

func (h *HTTPServer) statusPeers(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.srv.RaftPeers()
}

func (h *HTTPServer) agentMembers(w http.ResponseWriter, r *http.Request) (any, error) {
	members := h.srv.Members()
	out := make([]*structs.AgentMember, 0, len(members))
	for _, m := range members {
		out = append(out, &structs.AgentMember{Name: m.Name, Addr: m.Addr.String(), Port: m.Port,
			Status: m.Status.String(), Tags: m.Tags})
	}
	return out, nil
}

// agentSelf describes this agent: its config, Raft stats and version.
func (h *HTTPServer) agentSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	c := h.srv.Config()
	leaderAddr, leaderID := h.srv.Leader()
	return map[string]any{
		"Config": map[string]any{
			"Name": c.NodeName, "Datacenter": c.Datacenter, "DataDir": c.DataDir,
			"BindAddr": c.BindAddr, "HTTPAddr": c.HTTPAddr(), "RaftAddr": c.RaftAddr(),
			"SerfAddr": h.srv.SerfAddr(), "BootstrapExpect": c.BootstrapExpect, "Server": true,
		},
		"Leader":  map[string]string{"ID": leaderID, "Address": leaderAddr},
		"Stats":   map[string]any{"raft": h.srv.Stats(), "runtime": map[string]any{"goroutines": runtime.NumGoroutine(), "version": runtime.Version()}},
		"Version": version.Version,
	}, nil
}

func (h *HTTPServer) raftConfiguration(w http.ResponseWriter, r *http.Request) (any, error) {
	if !isStale(r) {
		if err := h.srv.ConsistentRead(); err != nil {
			return nil, err
		}
	}
	return h.srv.RaftConfiguration()
}

func (h *HTTPServer) raftRemovePeer(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	id, addr := q.Get("id"), q.Get("address")
	if id == "" && addr == "" {
		return nil, &structs.ValidationError{Field: "id", Msg: "or address must be given"}
	}
	if err := h.srv.RemoveRaftPeer(id, addr); err != nil {
		return nil, err
	}
	return map[string]bool{"Removed": true}, nil
}

// snapshotSave streams a snapshot; it writes the body itself, so it
// returns no value to encode.
func (h *HTTPServer) snapshotSave(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := h.srv.ConsistentRead(); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(h.srv.SaveSnapshot(pw)) }()
	defer pr.Close()
	// Read the first bytes before sending headers, so a failed snapshot
	// is still a proper error response.
	head := make([]byte, 64)
	n, err := pr.Read(head)
	if err != nil {
		return nil, err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(head[:n])
	_, _ = io.Copy(w, pr)
	return nil, errHandled
}

func (h *HTTPServer) snapshotRestore(w http.ResponseWriter, r *http.Request) (any, error) {
	if err := h.srv.RestoreSnapshot(r.Body); err != nil {
		return nil, err
	}
	return map[string]bool{"Restored": true}, nil
}
