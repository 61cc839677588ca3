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
	for {
		st := s.State()
		ws := memdb.NewWatchSet()
		for _, table := range []string{state.TableServices, state.TablePods, state.TableEndpoints} {
			watchTable(st, ws, table)
		}
		ws.Add(st.AbandonCh())
		if err := s.syncEndpoints(st); err != nil {
			s.logger.Error("endpoints: sync failed", "error", err)
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

// syncEndpoints writes the endpoints that differ from what the services
// and pods say they should be, and deletes those of services that are
// gone.
func (s *Server) syncEndpoints(st *state.StateStore) error {
	services, err := state.List[*structs.Service](st, nil, state.TableServices, state.AllNamespaces)
	if err != nil {
		return err
	}
	stored, err := state.List[*structs.Endpoints](st, nil, state.TableEndpoints, state.AllNamespaces)
	if err != nil {
		return err
	}
	have := make(map[structs.NamespacedID]*structs.Endpoints, len(stored))
	for _, e := range stored {
		have[structs.NamespacedID{Namespace: e.Namespace, ID: e.ID}] = e
	}
	req := &structs.EndpointsUpdateRequest{}
	podsByJob := map[structs.NamespacedID][]*structs.Pod{}
	for _, svc := range services {
		job := structs.NamespacedID{Namespace: svc.Namespace, ID: svc.JobID}
		pods, ok := podsByJob[job]
		if !ok {
			if pods, err = st.PodsByJob(nil, svc.Namespace, svc.JobID); err != nil {
				return err
			}
			podsByJob[job] = pods
		}
		want := computeEndpoints(svc, pods)
		key := structs.NamespacedID{Namespace: svc.Namespace, ID: svc.ID}
		if cur := have[key]; cur == nil || cur.JobID != want.JobID || !reflect.DeepEqual(cur.Endpoints, want.Endpoints) {
			req.Upserts = append(req.Upserts, want)
		}
		delete(have, key)
	}
	for key := range have {
		req.Deletes = append(req.Deletes, key)
	}
	if len(req.Upserts) == 0 && len(req.Deletes) == 0 {
		return nil
	}
	if _, _, err := s.raftApply(structs.EndpointsUpdateRequestType, req); err != nil {
		return fmt.Errorf("write endpoints of %d services: %w", len(req.Upserts)+len(req.Deletes), err)
	}
	return nil
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
	if ep.IP == "" || len(ep.Ports) < len(svc.Ports) {
		return "pod has no address yet"
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

// matchesSelector reports whether labels has every key and value of sel.
func matchesSelector(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
