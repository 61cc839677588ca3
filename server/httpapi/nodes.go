package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

func (h *HTTPServer) nodeRoutes() {
	h.handle("GET /v1/nodes", routeRead, h.nodeList)
	h.handle("GET /v1/node/{id}", routeRead, h.nodeGet)
	h.handle("PUT /v1/node/register", routeWrite, h.nodeRegister)
	h.handle("PUT /v1/node/{id}/heartbeat", routeWrite, h.nodeHeartbeat)
	h.handle("PUT /v1/node/{id}/endpoints-synced", routeWrite, h.nodeEndpointsSynced)
	h.handle("GET /v1/node/{id}/pods", routeRead, h.nodePods)
	h.handle("PUT /v1/node/{id}/pods/status", routeWrite, h.nodePodStatus)
	h.handle("POST /v1/node/{id}/drain", routeWrite, h.nodeDrain)
	h.handle("POST /v1/node/{id}/eligibility", routeWrite, h.nodeEligibility)
	h.handle("PUT /v1/node/{id}/purge", routeWrite, h.nodePurge)
	h.handle("GET /v1/pods", routeRead, h.podList)
	h.handle("GET /v1/pod/{id}", routeRead, h.podGet)
	h.handle("POST /v1/pod/{id}/stop", routeWrite, h.podStop)
}

func (h *HTTPServer) nodeList(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.blockingRead(w, r, tableRead(state.TableNodes, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		nodes, err := st.Nodes(ws)
		if nodes == nil {
			nodes = []*structs.Node{}
		}
		return nodes, err
	}))
}

// resolveNode finds a node by ID, unique ID prefix or name.
func resolveNode(ws memdb.WatchSet, st *state.StateStore, ref string) (*structs.Node, error) {
	nodes, err := st.Nodes(ws)
	if err != nil {
		return nil, err
	}
	var matches []*structs.Node
	for _, n := range nodes {
		if n.ID == ref || n.Name == ref {
			return n, nil
		}
		if strings.HasPrefix(n.ID, ref) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 0:
		return nil, structs.NotFoundError("node", ref)
	case 1:
		return matches[0], nil
	}
	return nil, structs.NewBadRequest("node prefix %q matches %d nodes; give more of the ID", ref, len(matches))
}

func (h *HTTPServer) nodeGet(w http.ResponseWriter, r *http.Request) (any, error) {
	ref := r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TableNodes, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		return resolveNode(ws, st, ref)
	}))
}

func (h *HTTPServer) nodeRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.NodeRegisterBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	return h.srv.RegisterNode(body.Node)
}

func (h *HTTPServer) nodeHeartbeat(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.srv.NodeHeartbeat(r.PathValue("id"))
}

// nodeEndpointsSynced is a client saying its proxy programmed the
// endpoints as of an index: the leader stops draining pods once every
// node has (memory only, no Raft write).
func (h *HTTPServer) nodeEndpointsSynced(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.EndpointsSyncedBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	h.srv.NodeEndpointsSynced(r.PathValue("id"), body.Index)
	return map[string]uint64{"Index": body.Index}, nil
}

// nodePods is what a client watches (with ?index=N): the pods placed on
// its node.
func (h *HTTPServer) nodePods(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TablePods, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		pods, err := st.PodsByNode(ws, id)
		if pods == nil {
			pods = []*structs.Pod{}
		}
		return pods, err
	}))
}

func (h *HTTPServer) nodePodStatus(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.PodStatusBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	index, err := h.srv.UpdatePodStatus(&structs.PodStatusRequest{NodeID: r.PathValue("id"), Updates: body.Updates})
	return &structs.WriteResult{Index: index}, err
}

func (h *HTTPServer) nodeDrain(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.NodeDrainBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	node, err := resolveNode(nil, h.srv.State(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	req := &structs.NodeSchedulingRequest{NodeID: node.ID, Drain: &body.Enable}
	if !body.Enable {
		req.Eligibility = structs.NodeEligible
	}
	index, err := h.srv.UpdateNodeScheduling(req)
	return &structs.WriteResult{Index: index}, err
}

// nodePurge serves PUT /v1/node/{id}/purge: a node that is gone for good
// is removed (409 while it is ready).
func (h *HTTPServer) nodePurge(w http.ResponseWriter, r *http.Request) (any, error) {
	node, err := resolveNode(nil, h.srv.State(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	index, err := h.srv.PurgeNode(node.ID)
	return &structs.WriteResult{Index: index}, err
}

func (h *HTTPServer) nodeEligibility(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.NodeEligibilityBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	node, err := resolveNode(nil, h.srv.State(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	req := &structs.NodeSchedulingRequest{NodeID: node.ID, Eligibility: structs.NodeIneligible}
	if body.Eligible {
		req.Eligibility = structs.NodeEligible
	}
	index, err := h.srv.UpdateNodeScheduling(req)
	return &structs.WriteResult{Index: index}, err
}

// resolvePod finds a pod by ID or unique ID prefix.
func resolvePod(ws memdb.WatchSet, st *state.StateStore, ns, ref string) (*structs.Pod, error) {
	pods, err := st.PodsByIDPrefix(ws, ns, ref)
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		if p.ID == ref {
			return p, nil
		}
	}
	switch len(pods) {
	case 0:
		return nil, structs.NotFoundError("pod", ref)
	case 1:
		return pods[0], nil
	}
	return nil, structs.NewBadRequest("pod prefix %q matches %d pods; give more of the ID", ref, len(pods))
}

func (h *HTTPServer) podGet(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, ref := namespace(r), r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TablePods, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		return resolvePod(ws, st, ns, ref)
	}))
}

func (h *HTTPServer) podStop(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := namespace(r)
	pod, err := resolvePod(nil, h.srv.State(), ns, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	index, err := h.srv.StopPod(ns, pod.ID)
	if err != nil {
		return nil, fmt.Errorf("stop pod: %w", err)
	}
	return &structs.WriteResult{Index: index}, nil
}
