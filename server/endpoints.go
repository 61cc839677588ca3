package server

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// endpointsPacing is the pause after an endpoints pass: the check results
// and pod changes of a burst are written in one entry.
const endpointsPacing = 50 * time.Millisecond

// endpointsLoop runs on the leader. Like the other controllers it is
// level-triggered: each pass computes every service's endpoints from the
// services and pods in the state store and writes only what differs from
// the stored endpoints, so a failover or restart converges from state.
func (s *Server) endpointsLoop(stopCh chan struct{}) {
	var last endpointsMark
	for {
		st := s.State()
		ws := memdb.NewWatchSet()
		for _, table := range []string{state.TableServices, state.TablePods, state.TableEndpoints} {
			watchTable(st, ws, table)
		}
		ws.Add(st.AbandonCh())
		mark, err := s.syncEndpoints(st, last)
		if err != nil {
			s.logger.Error("endpoints: sync failed", "error", err)
		} else {
			last = mark
		}
		timeout := time.NewTimer(s.config.ReconcileInterval)
		watchCtx, cancelWatch := context.WithCancel(context.Background())
		select {
		case <-ws.WatchCh(watchCtx):
		case <-timeout.C:
		case <-stopCh:
		}
		cancelWatch()
		timeout.Stop()
		select {
		case <-time.After(endpointsPacing):
		case <-stopCh:
			return
		}
	}
}

// endpointsMark is where the previous endpoints pass left off.
type endpointsMark struct {
	store *state.StateStore // a restored snapshot is a new store
	index uint64            // the latest Raft index the pass read
	full  time.Time
}

// syncEndpoints writes the endpoints that differ from what the services
// and pods say they should be, and deletes those of services that are
// gone. A full pass recomputes every service (at leadership, after a
// restore, and every ReconcileInterval); in between, a pass recomputes
// only the services whose job has a pod written since the last pass,
// and the services written since, so a check result at 1,000 services
// costs one service's work, not every one's.
func (s *Server) syncEndpoints(st *state.StateStore, last endpointsMark) (endpointsMark, error) {
	mark := endpointsMark{store: st, index: st.LatestIndex(), full: last.full}
	full := last.store != st || time.Since(last.full) >= s.config.ReconcileInterval
	if full {
		mark.full = time.Now()
	}
	services, err := state.List[*structs.Service](st, nil, state.TableServices, state.AllNamespaces)
	if err != nil {
		return last, err
	}
	var changedJobs map[structs.NamespacedID]bool
	if !full {
		if changedJobs, err = jobsWithPodsAfter(st, last.index); err != nil {
			return last, err
		}
	}
	stored, err := state.List[*structs.Endpoints](st, nil, state.TableEndpoints, state.AllNamespaces)
	if err != nil {
		return last, err
	}
	have := make(map[structs.NamespacedID]*structs.Endpoints, len(stored))
	for _, e := range stored {
		have[structs.NamespacedID{Namespace: e.Namespace, ID: e.ID}] = e
	}
	req := &structs.EndpointsUpdateRequest{}
	podsByJob := map[structs.NamespacedID][]*structs.Pod{}
	for _, svc := range services {
		job := structs.NamespacedID{Namespace: svc.Namespace, ID: svc.JobID}
		key := structs.NamespacedID{Namespace: svc.Namespace, ID: svc.ID}
		if !full && !changedJobs[job] && svc.ModifyIndex <= last.index && have[key] != nil {
			delete(have, key)
			continue
		}
		pods, ok := podsByJob[job]
		if !ok {
			if pods, err = st.PodsByJob(nil, svc.Namespace, svc.JobID); err != nil {
				return last, err
			}
			podsByJob[job] = pods
		}
		want := computeEndpoints(svc, pods)
		if cur := have[key]; cur == nil || cur.JobID != want.JobID || !reflect.DeepEqual(cur.Endpoints, want.Endpoints) {
			req.Upserts = append(req.Upserts, want)
		}
		delete(have, key)
	}
	for key := range have {
		req.Deletes = append(req.Deletes, key)
	}
	if len(req.Upserts) == 0 && len(req.Deletes) == 0 {
		return mark, nil
	}
	if _, _, err := s.raftApply(structs.EndpointsUpdateRequestType, req); err != nil {
		return last, fmt.Errorf("write endpoints of %d services: %w", len(req.Upserts)+len(req.Deletes), err)
	}
	return mark, nil
}

// jobsWithPodsAfter lists the jobs that have a pod written after index.
// It walks every pod (a few ms at 10,000) rather than keep an index that
// would cost every pod write.
func jobsWithPodsAfter(st *state.StateStore, index uint64) (map[structs.NamespacedID]bool, error) {
	pods, err := st.Pods(nil, state.AllNamespaces)
	if err != nil {
		return nil, err
	}
	jobs := map[structs.NamespacedID]bool{}
	for _, p := range pods {
		if p.ModifyIndex > index {
			jobs[structs.NamespacedID{Namespace: p.Namespace, ID: p.JobID}] = true
		}
	}
	return jobs, nil
}

// computeEndpoints is a service's endpoints: every pod of its job that
// matches its selector and is placed and wanted. An endpoint is ready
// when its pod runs, has an address for each of the service's ports, and
// passes the service's checks; only ready endpoints take traffic.
func computeEndpoints(svc *structs.Service, pods []*structs.Pod) *structs.Endpoints {
	out := &structs.Endpoints{ObjectMeta: structs.ObjectMeta{ID: svc.ID, Name: svc.Name, Namespace: svc.Namespace}, JobID: svc.JobID}
	for _, p := range pods {
		if !p.Active() || !matchesSelector(p.Labels, svc.Selector) {
			continue
		}
		ep := &structs.Endpoint{PodID: p.ID, PodName: p.Name, NodeID: p.NodeID, NodeName: p.NodeName}
		ep.IP, ep.Ports = endpointAddress(svc, p)
		ep.Reason = notReadyReason(svc, p, ep)
		ep.Ready = ep.Reason == ""
		out.Endpoints = append(out.Endpoints, ep)
	}
	sort.Slice(out.Endpoints, func(i, j int) bool { return out.Endpoints[i].PodName < out.Endpoints[j].PodName })
	return out
}

// endpointAddress is where a pod serves the service's ports. A pod with
// an IP of its own (bridge mode) serves on that IP at the port's `to`; a
// pod in its node's network (host mode) on the node port the scheduler
// gave it.
func endpointAddress(svc *structs.Service, p *structs.Pod) (string, map[string]int) {
	ports := map[string]int{}
	ip := p.IP
	for _, sp := range svc.Ports {
		ap := allocatedPort(p, sp.Name)
		switch {
		case p.IP != "" && ap != nil && ap.To != 0:
			ports[sp.Name] = ap.To
		case p.IP != "":
			ports[sp.Name] = sp.TargetPort
		case ap != nil:
			ip, ports[sp.Name] = ap.HostIP, ap.Value
		}
	}
	if len(ports) == 0 {
		return ip, nil // as a stored row decodes: compared with it
	}
	return ip, ports
}

func allocatedPort(p *structs.Pod, label string) *structs.AllocatedPort {
	for _, ap := range p.Ports {
		if ap.Label == label {
			return ap
		}
	}
	return nil
}

// notReadyReason says why an endpoint takes no traffic, "" when it does.
func notReadyReason(svc *structs.Service, p *structs.Pod, ep *structs.Endpoint) string {
	if p.Phase != structs.PodPhaseRunning {
		return "pod is " + p.Phase
	}
	if p.Draining {
		return "pod is draining"
	}
	if ep.IP == "" || len(ep.Ports) < len(svc.Ports) {
		return "pod has no address yet"
	}
	// A pod serves only while all its tasks run: one that died and waits
	// out its restart delay takes no traffic, checks or not.
	if name := notRunningTask(p); name != "" {
		return "task " + name + " is " + p.TaskStates[name].State
	}
	reported := 0
	for _, c := range p.Checks {
		if c.Service != svc.Name {
			continue
		}
		reported++
		if c.Status != structs.CheckPassing {
			return c.Describe()
		}
	}
	if reported < len(svc.Checks) {
		return "checks not reported yet"
	}
	return ""
}

// notRunningTask is the first task of p by name whose reported state is
// not running, "" when all run.
func notRunningTask(p *structs.Pod) string {
	var names []string
	for name, ts := range p.TaskStates {
		if ts != nil && ts.State != structs.TaskStateRunning {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return names[0]
}

// matchesSelector reports whether labels has every key and value of sel.
func matchesSelector(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
