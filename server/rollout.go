package server

import (
	"cmp"
	"fmt"
	"sort"

	"github.com/mk-orchestrator/mk/structs"
)

// Reasons a rollout gives the pods it stops.
const (
	reasonRolledOut = "replaced by a new version"
)

// rolloutInput is what one pass knows of a deployment: its strategy, the
// live pods of its current replica set (the target) and of older ones,
// and every pod of the target, finished ones too.
type rolloutInput struct {
	d        *structs.Deployment
	strategy *structs.UpdateStrategy
	// newPods are live pods of the target replica set; oldPods live pods
	// of older ones that are not draining; draining those being taken
	// out of service.
	newPods, oldPods, draining []*structs.Pod
	// targetPods are every pod of the target, finished ones too.
	targetPods []*structs.Pod
	// setVersions are the job versions of the deployment's replica sets.
	setVersions map[string]uint64
	now         int64
}

// rolloutPlan is a pass's decision for one deployment.
type rolloutPlan struct {
	// newCount is how many live pods the target replica set should have.
	newCount int
	// drain are old pods to take out of service, then stop.
	drain []*structs.Pod
	// update is a change of the deployment's status (nil: none).
	update *structs.DeploymentUpdate
	// failed says the rollout failed on this pass (auto_revert acts on it).
	failed bool
	// canaries is set while the new pods are canaries waiting for a
	// promotion.
	canaries int
	events   []*structs.JobEvent
}

// available reports whether a pod serves: it runs, is healthy (checks
// passing for min_healthy_time) and is not being drained.
func available(p *structs.Pod) bool {
	return p.Phase == structs.PodPhaseRunning && p.Healthy && !p.Draining
}

func countAvailable(pods []*structs.Pod) int {
	n := 0
	for _, p := range pods {
		if available(p) {
			n++
		}
	}
	return n
}

// resolveStep turns max_surge and max_unavailable into pod counts for a
// count: a percentage of surge rounds up and of unavailable down, and
// when both come to 0 one pod may be unavailable, as in Kubernetes.
func resolveStep(u *structs.UpdateStrategy, count int) (surge, unavailable int) {
	if u == nil {
		u = structs.DefaultUpdateStrategy()
	}
	surge, unavailable = u.MaxSurge, u.MaxUnavailable
	if u.MaxSurgePercent > 0 {
		surge = (count*u.MaxSurgePercent + 99) / 100
	}
	if u.MaxUnavailablePercent > 0 {
		unavailable = count * u.MaxUnavailablePercent / 100
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, min(unavailable, count)
}

// planRollout decides one pass of a deployment, level-triggered: the same
// pods give the same plan, whatever happened before (a failover, a
// restart). Steps are bounded as in Kubernetes: live pods of all versions
// stay at most count+max_surge, available ones at least
// count-max_unavailable; old pods that are not available go first.
func planRollout(in *rolloutInput) *rolloutPlan {
	d, u := in.d, in.strategy
	if u == nil {
		u = structs.DefaultUpdateStrategy()
	}
	plan := &rolloutPlan{newCount: d.Replicas}
	rolling := len(in.oldPods)+len(in.draining) > 0
	newAvail := countAvailable(in.newPods)
	halted := d.Status == structs.DeploymentStatusFailed || d.Status == structs.DeploymentStatusCancelled
	if !halted {
		if reason := rolloutFailure(in, u); reason != "" {
			halted, plan.failed = true, true
			plan.setStatus(d, structs.DeploymentStatusFailed, reason)
		}
	}
	switch {
	case halted && rolling:
		// A failed rollout stays where it stopped until a new version or
		// a revert: no more old pods go, no more new ones come.
		plan.newCount = min(len(in.newPods), d.Replicas)
		return plan
	case rolling:
	case newAvail >= d.Replicas && d.Status != structs.DeploymentStatusSuccessful:
		// Without old pods the group is kept at its count (failed pods
		// replaced) even after a failure, and completes once healthy.
		plan.setStatus(d, structs.DeploymentStatusSuccessful, fmt.Sprintf("%d of %d pods healthy", newAvail, d.Replicas))
		plan.update.StableReplicaSetID, plan.update.StableVersion = d.ReplicaSetID, d.JobVersion
		return plan
	default:
		// The last old pods are gone: the new ones are getting healthy.
		desc := fmt.Sprintf("%d of %d pods healthy", newAvail, d.Replicas)
		if d.Status == structs.DeploymentStatusRunning && d.StatusDescription != desc {
			plan.setStatus(d, structs.DeploymentStatusRunning, desc)
		}
		return plan
	}
	if u.Canary > 0 && !d.Promoted {
		plan.planCanaries(in, u, newAvail)
		return plan
	}
	plan.recordUnseenStable(in)
	surge, unavailable := resolveStep(u, d.Replicas)
	total := len(in.newPods) + len(in.oldPods) + len(in.draining)
	plan.newCount = min(d.Replicas, len(in.newPods)+max(d.Replicas+surge-total, 0))
	budget := newAvail + countAvailable(in.oldPods) - (d.Replicas - unavailable)
	old := append([]*structs.Pod(nil), in.oldPods...)
	sort.SliceStable(old, func(i, j int) bool { return !available(old[i]) && available(old[j]) })
	for _, p := range old {
		switch {
		case !available(p):
			plan.drain = append(plan.drain, p) // serves nothing: no budget needed
		case budget > 0:
			plan.drain = append(plan.drain, p)
			budget--
		}
	}
	// Old pods that still serve and those on their way out are counted
	// apart, so neither count goes back up while a pod moves along.
	desc := fmt.Sprintf("%d of %d new pods healthy, %d old left", newAvail, d.Replicas, len(in.oldPods)-len(plan.drain))
	if n := len(in.draining) + len(plan.drain); n > 0 {
		desc += fmt.Sprintf(", %d draining", n)
	}
	if d.Status != structs.DeploymentStatusRunning || d.StatusDescription != desc {
		plan.setStatus(d, structs.DeploymentStatusRunning, desc)
	}
	if len(plan.drain) > 0 {
		plan.updateOf(d).ProgressTime = in.now // an old pod goes: the rollout moved on
	}
	return plan
}

// planCanaries starts the canaries beside every old pod and waits for a
// promotion (auto_promote: once they are all healthy).
func (plan *rolloutPlan) planCanaries(in *rolloutInput, u *structs.UpdateStrategy, newAvail int) {
	d := in.d
	plan.newCount, plan.canaries = u.Canary, u.Canary
	if newAvail < u.Canary {
		desc := fmt.Sprintf("%d of %d canaries healthy", newAvail, u.Canary)
		if d.Status != structs.DeploymentStatusRunning || d.StatusDescription != desc {
			plan.setStatus(d, structs.DeploymentStatusRunning, desc)
		}
		return
	}
	if u.AutoPromote {
		plan.setStatus(d, structs.DeploymentStatusRunning, "canaries healthy: promoted automatically")
		plan.update.Promote, plan.update.ProgressTime = true, in.now
		plan.event(d, "Promoted", "canaries healthy: promoted automatically", nil)
		return
	}
	desc := fmt.Sprintf("%d canaries healthy: promote with `mk job promote %s`", u.Canary, d.JobID)
	if d.Status != structs.DeploymentStatusPaused {
		plan.setStatus(d, structs.DeploymentStatusPaused, desc)
	}
}

// rolloutFailure says why a rollout failed ("" while it has not): a pod of
// the new version that ended in failure or was not healthy within
// healthy_deadline, or a rollout past its progress_deadline. A paused
// rollout waits for a person, so its deadline does not run.
func rolloutFailure(in *rolloutInput, u *structs.UpdateStrategy) string {
	d := in.d
	if d.Status == structs.DeploymentStatusSuccessful {
		return "" // steady state: pods that fail now are replaced, not a rollout's failure
	}
	healthy, _ := structs.ParseDuration(u.HealthyDeadline)
	for _, p := range in.targetPods {
		if p.CreateTime < d.StartTime || p.DesiredStatus != structs.PodDesiredRun {
			continue
		}
		switch {
		case p.Phase == structs.PodPhaseFailed:
			return fmt.Sprintf("pod %s failed: %s", p.Name, cmp.Or(p.Reason(), p.Phase))
		case healthy > 0 && !p.Healthy && !p.Terminal() && in.now-p.CreateTime > int64(healthy):
			return fmt.Sprintf("pod %s not healthy within healthy_deadline %s", p.Name, u.HealthyDeadline)
		}
	}
	progress, _ := structs.ParseDuration(u.ProgressDeadline)
	if progress > 0 && d.Status != structs.DeploymentStatusPaused && in.now-max(d.StartTime, d.ProgressTime) > int64(progress) {
		return fmt.Sprintf("rollout not complete within progress_deadline %s", u.ProgressDeadline)
	}
	return ""
}

// setStatus sets the status the pass writes, keeping what the pass
// already decided to write (a stable version).
func (plan *rolloutPlan) setStatus(d *structs.Deployment, status, desc string) {
	u := plan.updateOf(d)
	u.Status, u.StatusDescription = status, desc
	if status != d.Status {
		plan.event(d, "Deployment"+titleWord(status), desc, map[string]string{"version": fmt.Sprint(d.JobVersion)})
	}
}

// updateOf is the update the pass writes for d, made on first use.
func (plan *rolloutPlan) updateOf(d *structs.Deployment) *structs.DeploymentUpdate {
	if plan.update == nil {
		plan.update = &structs.DeploymentUpdate{Namespace: d.Namespace, ID: d.ID, JobID: d.JobID, ReplicaSetID: d.ReplicaSetID}
	}
	return plan.update
}

func (plan *rolloutPlan) event(d *structs.Deployment, typ, msg string, details map[string]string) {
	plan.events = append(plan.events, &structs.JobEvent{Namespace: d.Namespace, JobID: d.JobID, Group: d.Group,
		Topic: structs.TopicDeployment, Type: typ, Message: msg, Details: details})
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// wholeRolloutPlan is where a rollout ends (a job plan's view): the new
// version at its count and every old pod stopped, or, while canaries wait
// for a promotion, the canaries beside every old pod.
func wholeRolloutPlan(in *rolloutInput) *rolloutPlan {
	d, u := in.d, in.strategy
	if u != nil && u.Canary > 0 && !d.Promoted && len(in.oldPods) > 0 {
		return &rolloutPlan{newCount: u.Canary, canaries: u.Canary}
	}
	return &rolloutPlan{newCount: d.Replicas, drain: in.oldPods}
}

// recordUnseenStable covers a register that came before the controller
// saw the previous version complete (a client that registers v2 as soon
// as v1's pods are healthy): when no stable version is recorded and every
// old pod is of one replica set and serves, that replica set completed.
func (plan *rolloutPlan) recordUnseenStable(in *rolloutInput) {
	d := in.d
	if d.StableReplicaSetID != "" || len(in.oldPods) == 0 || len(in.draining) > 0 {
		return
	}
	rs := in.oldPods[0].OwnerID
	for _, p := range in.oldPods {
		if p.OwnerID != rs || !available(p) {
			return
		}
	}
	plan.update = &structs.DeploymentUpdate{Namespace: d.Namespace, ID: d.ID, JobID: d.JobID, ReplicaSetID: d.ReplicaSetID,
		StableReplicaSetID: rs, StableVersion: in.setVersions[rs]}
}
