package httpapi

import (
	"net/http"

	"github.com/mk-orchestrator/mk/structs"
)

// scaleRoutes are the autoscaling routes: a group's count set by hand,
// and the clients' usage reports that the leader's autoscaler reads.
func (h *HTTPServer) scaleRoutes() {
	h.handle("PUT /v1/job/{id}/scale", routeWrite, h.jobScale)
	h.handle("POST /v1/job/{id}/scale", routeWrite, h.jobScale)
	h.handle("PUT /v1/node/{id}/pods/usage", routeWrite, h.nodePodUsage)
}

// jobScale serves PUT/POST /v1/job/{id}/scale with {Group, Count}.
func (h *HTTPServer) jobScale(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobScaleBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Group == "" {
		return nil, &structs.ValidationError{Field: "Group", Msg: "is required"}
	}
	if body.Count == nil {
		return nil, &structs.ValidationError{Field: "Count", Msg: "is required"}
	}
	return h.srv.ScaleJob(namespace(r), r.PathValue("id"), body.Group, *body.Count, body.Message)
}

// nodePodUsage serves PUT /v1/node/{id}/pods/usage: samples of the
// node's pods' resource use, kept by the leader in memory (never in
// Raft).
func (h *HTTPServer) nodePodUsage(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.PodUsageBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if err := h.srv.ReportPodUsage(r.PathValue("id"), &body); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
