package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

func (h *HTTPServer) objectRoutes() {
	h.handle("GET /v1/deployments", routeRead, listObjects[*structs.Deployment](h, state.TableDeployments))
	h.handle("GET /v1/replicasets", routeRead, listObjects[*structs.ReplicaSet](h, state.TableReplicaSets))
	h.handle("GET /v1/services", routeRead, listObjects[*structs.Service](h, state.TableServices))
	h.handle("GET /v1/autoscalers", routeRead, listObjects[*structs.Autoscaler](h, state.TableAutoscalers))
	h.handle("GET /v1/ingresses", routeRead, listObjects[*structs.Ingress](h, state.TableIngresses))
	h.handle("GET /v1/service/{name}", routeRead, h.serviceGet)
	h.handle("GET /v1/endpoints", routeRead, h.endpointsList)
	h.handle("GET /v1/endpoints/changes", routeRead, h.endpointsChanges)
	h.handle("GET /v1/endpoints/{namespace}/{service}", routeRead, h.endpointsGet)
}

// jobOwned is what every derived object has: its job.
type jobOwned interface {
	structs.Object
	comparable
}

// listObjects serves a list of one table, optionally ?job=ID filtered.
// ?namespace=* lists every namespace.
func listObjects[T jobOwned](h *HTTPServer, table string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		ns := r.URL.Query().Get("namespace")
		if ns == "" {
			ns = structs.DefaultNamespace
		}
		job := r.URL.Query().Get("job")
		return h.blockingRead(w, r, tableRead(table, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
			all, err := state.List[T](st, ws, table, ns)
			if err != nil {
				return nil, err
			}
			out := make([]T, 0, len(all))
			for _, o := range all {
				if job == "" || o.Metadata().Labels[structs.LabelJob] == job {
					out = append(out, o)
				}
			}
			return out, nil
		}))
	}
}

func (h *HTTPServer) serviceGet(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, name := namespace(r), r.PathValue("name")
	return h.blockingRead(w, r, tableRead(state.TableServices, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		svc, err := st.ServiceByName(ws, ns, name)
		if err == nil && svc == nil {
			err = structs.NotFoundError("service", name)
		}
		return svc, err
	}))
}

// endpointsList serves GET /v1/endpoints: every service's endpoints in
// the namespace (?namespace=* for all), optionally ?job=ID filtered.
func (h *HTTPServer) endpointsList(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	job := r.URL.Query().Get("job")
	return h.blockingRead(w, r, tableRead(state.TableEndpoints, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		all, err := state.List[*structs.Endpoints](st, ws, state.TableEndpoints, ns)
		if err != nil {
			return nil, err
		}
		out := make([]*structs.Endpoints, 0, len(all))
		for _, e := range all {
			if job == "" || e.JobID == job {
				out = append(out, e)
			}
		}
		return out, nil
	}))
}

// endpointsGet serves GET /v1/endpoints/{namespace}/{service}.
func (h *HTTPServer) endpointsGet(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("service")
	return h.blockingRead(w, r, tableRead(state.TableEndpoints, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		e, err := st.EndpointsOf(ws, ns, name)
		if err == nil && e == nil {
			err = structs.NotFoundError("endpoints of service", name)
		}
		return e, err
	}))
}

// endpointsChanges serves GET /v1/endpoints/changes?since=N: the
// endpoints of the namespace (?namespace=* for all) written after N, and
// the keys of all, blocking like the list.
func (h *HTTPServer) endpointsChanges(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &structs.ValidationError{Field: "since", Msg: fmt.Sprintf("must be a Raft index, got %q", v)}
		}
		since = n
	}
	return h.blockingRead(w, r, tableRead(state.TableEndpoints, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		all, err := state.List[*structs.Endpoints](st, ws, state.TableEndpoints, ns)
		if err != nil {
			return nil, err
		}
		out := &structs.EndpointsChanges{Keys: make([]structs.NamespacedID, 0, len(all))}
		for _, e := range all {
			out.Keys = append(out.Keys, structs.NamespacedID{Namespace: e.Namespace, ID: e.ID})
			if e.ModifyIndex > since {
				out.Changed = append(out.Changed, e)
			}
		}
		return out, nil
	}))
}
