package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/server/autoscale"
	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/structs"
)

// autoscalerLoop runs on the leader: every AutoscaleInterval it computes
// each autoscaler's count from its pods' usage (autoscale.Recommend),
// decides (autoscale.History), writes a new count through Raft
// (JobScale, a count, not a new version) and records the decision as an
// event. What it remembers (the proposals of the scale-down window, the
// last scale) lives in this loop and dies with the leadership; so does
// the usage window, which a new leader fills from fresh reports.
func (s *Server) autoscalerLoop(stopCh chan struct{}) {
	s.usage.reset()
	states := map[string]*autoscalerState{}
	ticker := time.NewTicker(s.config.AutoscaleInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
		case <-stopCh:
			return
		}
		if err := s.autoscalePass(states, time.Now()); err != nil {
			s.logger.Error("autoscaler: pass failed", "error", err)
		}
	}
}

// autoscalerState is what the loop keeps per autoscaler.
type autoscalerState struct {
	history autoscale.History
	// lastHold is the last "no change" recorded, so that a verdict that
	// holds for minutes is one event, not one per pass.
	lastHold string
}

// autoscalePass decides every autoscaler once.
func (s *Server) autoscalePass(states map[string]*autoscalerState, now time.Time) error {
	st := s.State()
	scalers, err := state.List[*structs.Autoscaler](st, nil, state.TableAutoscalers, state.AllNamespaces)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range scalers {
		// A job stopped and run again makes a new autoscaler (a new
		// CreateIndex): it starts with a history of its own.
		k := fmt.Sprintf("%s/%s/%s@%d", a.Namespace, a.JobID, a.ID, a.CreateIndex)
		seen[k] = true
		as := states[k]
		if as == nil {
			as = &autoscalerState{}
			states[k] = as
		}
		if err := s.autoscaleOne(st, a, as, now); err != nil {
			s.logger.Warn("autoscaler: no decision", "job", a.JobID, "group", a.Group, "error", err)
		}
	}
	for k := range states {
		if !seen[k] {
			delete(states, k)
		}
	}
	s.usage.prune(now)
	return nil
}

// autoscaleOne decides one autoscaler and acts on it.
func (s *Server) autoscaleOne(st *state.StateStore, a *structs.Autoscaler, as *autoscalerState, now time.Time) error {
	dep, err := targetDeployment(st, a)
	if err != nil || dep == nil {
		return err
	}
	pods, err := st.PodsByJob(nil, a.Namespace, a.JobID)
	if err != nil {
		return err
	}
	current := dep.Replicas
	recs := s.recommend(a, pods, current, now)
	proposed, valid := autoscale.Combine(recs)
	if !valid {
		proposed = current // no samples yet: only min and max apply
	}
	policy, err := policyOf(a)
	if err != nil {
		return err
	}
	as.history.Observe(now, current)
	d := as.history.Decide(now, current, proposed, policy)
	tolerated := false
	for _, r := range recs {
		tolerated = tolerated || r.Tolerated && r.Desired == current
	}
	if d.Desired == current && d.Held == "" && tolerated {
		d.Held = fmt.Sprintf("usage within %.0f%% of the target", autoscale.Tolerance*100)
	}
	ev := decisionEvent(a, d, recs, now)
	if d.Desired == current {
		if d.Held == "" || !valid && d.Proposed == current {
			as.lastHold = "" // nothing to say: the metrics ask for the count there is
			return nil
		}
		if hold := holdKey(d); hold != as.lastHold {
			as.lastHold = hold
			return s.RecordEvents(ev)
		}
		return nil
	}
	req := &structs.JobScaleRequest{Namespace: a.Namespace, JobID: a.JobID, Group: a.Group, Count: d.Desired,
		Source: structs.ScaleSourceAutoscaler, Message: ev.Message, Time: now.UnixNano()}
	if _, _, err := s.apiApply(structs.JobScaleRequestType, req, a.Namespace, a.JobID); err != nil {
		return fmt.Errorf("scale %s group %s to %d: %w", a.JobID, a.Group, d.Desired, err)
	}
	as.history.Applied(now, d.Desired)
	as.lastHold = ""
	s.logger.Info("autoscaler: scaled", "job", a.JobID, "group", a.Group, "from", current, "to", d.Desired, "usage", ev.Details["usage"])
	return s.RecordEvents(ev)
}

// targetDeployment is the deployment an autoscaler scales, or nil when
// its job has none (stopped meanwhile).
func targetDeployment(st *state.StateStore, a *structs.Autoscaler) (*structs.Deployment, error) {
	job, err := st.JobByID(nil, a.Namespace, a.JobID)
	if err != nil || job == nil || job.Stop {
		return nil, err
	}
	objs, err := st.WorkloadsByJob(a.Namespace, a.JobID)
	if err != nil {
		return nil, err
	}
	for _, d := range objs.Deployments {
		if d.ID == a.TargetDeployment || a.TargetDeployment == "" && d.Group == a.Group {
			return d, nil
		}
	}
	return nil, nil
}

func policyOf(a *structs.Autoscaler) (autoscale.Policy, error) {
	up, err := structs.ParseDuration(a.ScaleUpCooldown)
	if err != nil {
		return autoscale.Policy{}, fmt.Errorf("scale_up_cooldown: %w", err)
	}
	down, err := structs.ParseDuration(a.ScaleDownCooldown)
	if err != nil {
		return autoscale.Policy{}, fmt.Errorf("scale_down_cooldown: %w", err)
	}
	return autoscale.Policy{Min: a.Min, Max: a.Max, ScaleUpCooldown: up, ScaleDownWindow: down}, nil
}

// recommend computes what each of the autoscaler's metrics asks for from
// the group's live pods and their latest samples. CPU is a percent of
// the tasks' resources.cpu (MHz), memory of their resources.memory.
func (s *Server) recommend(a *structs.Autoscaler, pods []*structs.Pod, current int, now time.Time) []autoscale.Recommendation {
	var cpu, mem autoscale.Metric
	cpu.Name, cpu.TargetPercent = "cpu", a.CPUPercent
	mem.Name, mem.TargetPercent = "memory", a.MemoryPercent
	for _, p := range pods {
		if p.Group != a.Group || p.DesiredStatus != structs.PodDesiredRun || p.Terminal() {
			continue
		}
		ready := p.Phase == structs.PodPhaseRunning && p.Healthy
		u, sampled := s.usage.latest(p.Namespace, p.ID, p.NodeID, now)
		var reqCPU, reqMem float64
		if r := p.Resources; r != nil {
			reqCPU, reqMem = float64(r.CPU), float64(r.MemoryMB)*1024*1024
		}
		cpu.Pods = append(cpu.Pods, autoscale.Pod{Ready: ready, Sampled: sampled, Usage: u.CPUMHz, Request: reqCPU})
		mem.Pods = append(mem.Pods, autoscale.Pod{Ready: ready, Sampled: sampled, Usage: float64(u.MemoryBytes), Request: reqMem})
	}
	var recs []autoscale.Recommendation
	for _, m := range []autoscale.Metric{cpu, mem} {
		if m.TargetPercent > 0 {
			recs = append(recs, autoscale.Recommend(current, m, autoscale.Tolerance))
		}
	}
	return recs
}

// decisionEvent is the event of a decision, with its inputs: the
// current and desired counts, what the metrics proposed, each metric's
// usage and target, and what held the count.
func decisionEvent(a *structs.Autoscaler, d autoscale.Decision, recs []autoscale.Recommendation, now time.Time) *structs.JobEvent {
	var usage, target []string
	for _, r := range recs {
		u := "no samples"
		if r.Valid {
			u = fmt.Sprintf("%.0f%%", r.UsagePercent)
		}
		usage = append(usage, r.Metric+" "+u)
		target = append(target, fmt.Sprintf("%s %d%%", r.Metric, r.TargetPercent))
	}
	sort.Strings(usage)
	sort.Strings(target)
	ev := &structs.JobEvent{Namespace: a.Namespace, JobID: a.JobID, Group: a.Group, Topic: structs.TopicAutoscaler, Time: now.UnixNano(),
		Details: map[string]string{
			"current": strconv.Itoa(d.Current), "desired": strconv.Itoa(d.Desired), "proposed": strconv.Itoa(d.Proposed),
			"usage": strings.Join(usage, ", "), "target": strings.Join(target, ", "),
		}}
	if d.Held != "" {
		ev.Details["reason"] = d.Held
	}
	switch {
	case d.Desired > d.Current:
		ev.Type = structs.EventScaleOut
		ev.Message = fmt.Sprintf("scaled out from %d to %d: usage %s, target %s", d.Current, d.Desired, ev.Details["usage"], ev.Details["target"])
	case d.Desired < d.Current:
		ev.Type = structs.EventScaleIn
		ev.Message = fmt.Sprintf("scaled in from %d to %d: usage %s, target %s", d.Current, d.Desired, ev.Details["usage"], ev.Details["target"])
	default:
		ev.Type = structs.EventNoChange
		ev.Message = fmt.Sprintf("no change from %d (%d proposed): %s; usage %s, target %s",
			d.Current, d.Proposed, d.Held, ev.Details["usage"], ev.Details["target"])
	}
	return ev
}

// holdKey identifies a "no change" for deduplication: the counts and the
// rule that held, without the numbers that move each pass (the time
// since the last scale).
func holdKey(d autoscale.Decision) string {
	rule, _, _ := strings.Cut(d.Held, ":")
	return fmt.Sprintf("%d/%d/%s", d.Current, d.Proposed, rule)
}
