package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// podFilter is what GET /v1/pods selects: ?job=, ?node= (ID, ID prefix or
// name), ?status= (phase), and ?recent, which hides terminal pods that
// last changed more than half the server's pod_gc_threshold ago (what
// mk pod list shows without -all).
type podFilter struct {
	job, node, phase string
	// hideBefore: terminal pods that last changed before it are hidden
	// (unix nanos; 0 hides none).
	hideBefore int64
}

func parsePodFilter(r *http.Request, threshold time.Duration, now time.Time) (podFilter, error) {
	q := r.URL.Query()
	f := podFilter{job: q.Get("job"), node: q.Get("node"), phase: q.Get("status")}
	switch f.phase {
	case "", structs.PodPhasePending, structs.PodPhaseRunning, structs.PodPhaseSucceeded, structs.PodPhaseFailed, structs.PodPhaseLost:
	default:
		return f, structs.NewBadRequest("status %q is not a pod phase (pending, running, succeeded, failed, lost)", f.phase)
	}
	if _, ok := q["recent"]; ok {
		f.hideBefore = now.Add(-threshold / 2).UnixNano()
	}
	return f, nil
}

func (f podFilter) match(p *structs.Pod) bool {
	switch {
	case f.node != "" && p.NodeName != f.node && !(p.NodeID != "" && strings.HasPrefix(p.NodeID, f.node)):
		return false
	case f.phase != "" && p.Phase != f.phase:
		return false
	case f.hideBefore != 0 && p.Terminal() && p.ModifyTime < f.hideBefore:
		return false
	}
	return true
}

func (h *HTTPServer) podList(w http.ResponseWriter, r *http.Request) (any, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	f, err := parsePodFilter(r, h.srv.Config().PodGCThreshold, time.Now())
	if err != nil {
		return nil, err
	}
	return h.blockingRead(w, r, tableRead(state.TablePods, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		var pods []*structs.Pod
		var err error
		if f.job != "" {
			pods, err = st.PodsByJob(ws, ns, f.job)
		} else {
			pods, err = st.Pods(ws, ns)
		}
		out := []*structs.Pod{}
		for _, p := range pods {
			if f.match(p) {
				out = append(out, p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, err
	}))
}
