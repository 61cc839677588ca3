package httpapi

import (
	"net/http"
	"strconv"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

func (h *HTTPServer) routes() {
	h.handle("GET /v1/jobs", routeRead, h.jobList)
	h.handle("POST /v1/jobs", routeWrite, h.jobRegister)
	h.handle("PUT /v1/jobs", routeWrite, h.jobRegister)
	h.handle("POST /v1/jobs/parse", routeLocal, h.jobParse)
	h.handle("GET /v1/job/{id}", routeRead, h.jobGet)
	h.handle("POST /v1/job/{id}", routeWrite, h.jobRegisterAt)
	h.handle("DELETE /v1/job/{id}", routeWrite, h.jobDeregister)
	h.handle("POST /v1/job/{id}/plan", routeRead, h.jobPlan)
	h.handle("PUT /v1/job/{id}/plan", routeRead, h.jobPlan)
	h.handle("GET /v1/job/{id}/versions", routeRead, h.jobVersions)
	h.scaleRoutes()
	h.objectRoutes()
	h.deploymentRoutes()
	h.nodeRoutes()
	h.localPodRoutes(h.onPodNode)
	h.operatorRoutes()
	h.eventRoutes()
}

func (h *HTTPServer) jobList(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	return h.blockingRead(w, r, tableRead(state.TableJobs, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		jobs, err := st.Jobs(ws, ns)
		out := make([]*structs.JobListStub, 0, len(jobs))
		for _, j := range jobs {
			stub := j.Stub()
			stub.Status = st.JobStatus(nil, j)
			out = append(out, stub)
		}
		return out, err
	}))
}

func (h *HTTPServer) jobRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobRegisterBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Job == nil {
		return nil, &structs.ValidationError{Field: "Job", Msg: "is required"}
	}
	if ns := r.URL.Query().Get("namespace"); ns != "" && body.Job.Namespace == "" {
		body.Job.Namespace = ns
	}
	return h.srv.RegisterJob(body.Job, body.EnforceIndex, body.JobModifyIndex)
}

// jobRegisterAt is POST /v1/job/{id}: a register whose path names the job.
func (h *HTTPServer) jobRegisterAt(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobRegisterBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Job == nil {
		return nil, &structs.ValidationError{Field: "Job", Msg: "is required"}
	}
	if id := r.PathValue("id"); body.Job.ID != "" && body.Job.ID != id || body.Job.ID == "" && body.Job.Name != id {
		return nil, &structs.ValidationError{Field: "Job.ID", Msg: "does not match the job named in the path"}
	}
	return h.srv.RegisterJob(body.Job, body.EnforceIndex, body.JobModifyIndex)
}

func (h *HTTPServer) jobParse(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobParseBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	name := body.Filename
	if name == "" {
		name = "job.hcl"
	}
	return jobspecs.Parse(name, []byte(body.JobHCL), jobspecs.ParseOptions{Vars: body.Variables, NoFiles: true})
}

func (h *HTTPServer) jobGet(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, id := namespace(r), r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TableJobs, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		job, err := st.JobByID(ws, ns, id)
		if err == nil && job == nil {
			err = structs.NotFoundError("job", id)
		}
		if err != nil {
			return nil, err
		}
		out := *job // shallow: only Status changes
		out.Status = st.JobStatus(nil, job)
		return &out, nil
	}))
}

func (h *HTTPServer) jobDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	purge, _ := strconv.ParseBool(r.URL.Query().Get("purge"))
	index, err := h.srv.DeregisterJob(namespace(r), r.PathValue("id"), purge)
	if err != nil {
		return nil, err
	}
	return &structs.WriteResult{Index: index}, nil
}

func (h *HTTPServer) jobPlan(w http.ResponseWriter, r *http.Request) (any, error) {
	var body structs.JobPlanBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Job == nil {
		return nil, &structs.ValidationError{Field: "Job", Msg: "is required"}
	}
	if !isStale(r) {
		if err := h.srv.ConsistentRead(); err != nil {
			return nil, err
		}
	}
	return h.srv.PlanJob(body.Job)
}

func (h *HTTPServer) jobVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, id := namespace(r), r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TableJobVersions, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		versions, err := st.JobVersions(ws, ns, id)
		if err == nil && len(versions) == 0 {
			err = structs.NotFoundError("job", id)
		}
		return versions, err
	}))
}
