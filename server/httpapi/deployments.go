package httpapi

import (
	"net/http"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

func (h *HTTPServer) deploymentRoutes() {
	h.handle("GET /v1/job/{id}/deployments", routeRead, h.jobDeployments)
	h.handle("POST /v1/job/{id}/revert", routeWrite, h.jobRevert)
	h.handle("PUT /v1/job/{id}/revert", routeWrite, h.jobRevert)
	h.handle("POST /v1/job/{id}/promote", routeWrite, h.jobPromote)
	h.handle("PUT /v1/job/{id}/promote", routeWrite, h.jobPromote)
}

// jobDeployments is each deployment of a job with its pods counted; it
// blocks on pod writes (every rollout step writes pods).
func (h *HTTPServer) jobDeployments(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, id := namespace(r), r.PathValue("id")
	return h.blockingRead(w, r, func(ws memdb.WatchSet, st *state.StateStore) (any, uint64, error) {
		job, err := st.JobByID(ws, ns, id)
		if err == nil && job == nil {
			err = structs.NotFoundError("job", id)
		}
		if err != nil {
			return nil, 0, err
		}
		out, err := server.DeploymentsProgress(st, ws, ns, id)
		return out, max(st.Index(state.TablePods), st.Index(state.TableDeployments)), err
	})
}

func (h *HTTPServer) jobRevert(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobRevertBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	return h.srv.RevertJob(namespace(r), r.PathValue("id"), body.Version, body.EnforceIndex, body.JobModifyIndex)
}

func (h *HTTPServer) jobPromote(w http.ResponseWriter, r *http.Request) (any, error) {
	index, err := h.srv.PromoteJob(namespace(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return &structs.WriteResult{Index: index}, nil
}
