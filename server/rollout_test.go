package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

func TestResolveStep(t *testing.T) {
	tests := []struct {
		name          string
		u             *structs.UpdateStrategy
		count         int
		surge, unavbl int
	}{
		{"defaults of 4", structs.DefaultUpdateStrategy(), 4, 1, 1},
		{"defaults of 10: surge rounds up, unavailable down", structs.DefaultUpdateStrategy(), 10, 3, 2},
		{"defaults of 1: one may be unavailable when both are 0", structs.DefaultUpdateStrategy(), 1, 1, 0},
		{"percent of 0 pods", &structs.UpdateStrategy{MaxSurgePercent: 0, MaxUnavailablePercent: 50}, 0, 0, 0},
		{"absolute", &structs.UpdateStrategy{MaxSurge: 2, MaxUnavailable: 0}, 10, 2, 0},
		{"both zero", &structs.UpdateStrategy{}, 5, 0, 1},
		{"unavailable capped at count", &structs.UpdateStrategy{MaxUnavailable: 9}, 3, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, u := resolveStep(tc.u, tc.count)
			if s != tc.surge || u != tc.unavbl {
				t.Fatalf("resolveStep = surge %d, unavailable %d; want %d, %d", s, u, tc.surge, tc.unavbl)
			}
		})
	}
}

// rolloutPods makes n pods of a replica set: healthy running ones, or
// pending ones.
func rolloutPods(prefix string, n int, healthy bool, created int64) []*structs.Pod {
	var out []*structs.Pod
	for i := 0; i < n; i++ {
		p := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: fmt.Sprintf("%s%d", prefix, i), Name: fmt.Sprintf("%s%d", prefix, i)},
			NodeID: "n1", DesiredStatus: structs.PodDesiredRun, Phase: structs.PodPhasePending, CreateTime: created}
		if healthy {
			p.Phase, p.Healthy = structs.PodPhaseRunning, true
		}
		out = append(out, p)
	}
	return out
}

func TestPlanRollout(t *testing.T) {
	const now = int64(1000 * time.Second)
	deployment := func(status string, replicas int, u *structs.UpdateStrategy) *structs.Deployment {
		return &structs.Deployment{ObjectMeta: structs.ObjectMeta{ID: "web-g", Namespace: "default"}, JobID: "web",
			ReplicaSetID: "rs2", Replicas: replicas, Strategy: u, Status: status, StartTime: now - int64(time.Second)}
	}
	surge1 := &structs.UpdateStrategy{MaxSurge: 1, MaxUnavailable: 0, HealthyDeadline: "5m", ProgressDeadline: "10m"}
	unavail2 := &structs.UpdateStrategy{MaxSurge: 0, MaxUnavailable: 2, HealthyDeadline: "5m", ProgressDeadline: "10m"}
	canary := &structs.UpdateStrategy{MaxSurge: 1, Canary: 1, HealthyDeadline: "5m", ProgressDeadline: "10m"}
	autoPromote := &structs.UpdateStrategy{MaxSurge: 1, Canary: 1, AutoPromote: true, HealthyDeadline: "5m", ProgressDeadline: "10m"}
	running := structs.DeploymentStatusRunning
	tests := []struct {
		name            string
		d               *structs.Deployment
		newPods, old    []*structs.Pod
		wantNew         int
		wantDrain       int
		wantStatus      string // "" : no update
		wantFailed      bool
		wantPromote     bool
		wantDescription string
		wantProgress    bool // the update moves ProgressTime to now
	}{
		{name: "surge 1 starts one new pod, drains none", d: deployment(running, 4, surge1),
			old: rolloutPods("o", 4, true, 0), wantNew: 1, wantDrain: 0, wantStatus: running},
		{name: "surge 1: a healthy new pod lets one old go", d: deployment(running, 4, surge1),
			newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 4, true, 0), wantNew: 1, wantDrain: 1, wantStatus: running, wantProgress: true},
		{name: "surge 1: an unhealthy new pod holds the old ones", d: deployment(running, 4, surge1),
			newPods: rolloutPods("n", 1, false, now), old: rolloutPods("o", 4, true, 0), wantNew: 1, wantDrain: 0, wantStatus: running},
		{name: "unavailable 2 drains two before any new pod", d: deployment(running, 4, unavail2),
			old: rolloutPods("o", 4, true, 0), wantNew: 0, wantDrain: 2, wantStatus: running, wantProgress: true},
		{name: "unavailable 2: two old gone, two new start", d: deployment(running, 4, unavail2),
			old: rolloutPods("o", 2, true, 0), wantNew: 2, wantDrain: 0, wantStatus: running},
		{name: "old pods that serve nothing go first and freely", d: deployment(running, 4, surge1),
			old: append(rolloutPods("o", 2, true, 0), rolloutPods("u", 2, false, 0)...), wantNew: 1, wantDrain: 2, wantStatus: running, wantProgress: true},
		{name: "complete: all new healthy, no old", d: deployment(running, 3, surge1),
			newPods: rolloutPods("n", 3, true, now), wantNew: 3, wantStatus: structs.DeploymentStatusSuccessful},
		{name: "steady state writes nothing", d: deployment(structs.DeploymentStatusSuccessful, 3, surge1),
			newPods: rolloutPods("n", 3, true, now), wantNew: 3},
		{name: "canary starts beside every old pod", d: deployment(running, 3, canary),
			old: rolloutPods("o", 3, true, 0), wantNew: 1, wantDrain: 0, wantStatus: running},
		{name: "healthy canary waits for a promotion", d: deployment(running, 3, canary),
			newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1, wantStatus: structs.DeploymentStatusPaused},
		{name: "healthy canary promoted automatically", d: deployment(running, 3, autoPromote),
			newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1, wantStatus: running, wantPromote: true, wantProgress: true},
		{name: "promoted canary rolls on", d: func() *structs.Deployment { d := deployment(running, 3, canary); d.Promoted = true; return d }(),
			newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1, wantDrain: 1, wantStatus: running, wantProgress: true},
		{name: "a new pod past healthy_deadline fails the rollout", d: func() *structs.Deployment {
			d := deployment(running, 3, surge1)
			d.StartTime = now - int64(7*time.Minute)
			return d
		}(),
			newPods: rolloutPods("n", 1, false, now-int64(6*time.Minute)), old: rolloutPods("o", 3, true, 0),
			wantNew: 1, wantStatus: structs.DeploymentStatusFailed, wantFailed: true, wantDescription: "not healthy within healthy_deadline 5m"},
		{name: "a failed rollout holds", d: deployment(structs.DeploymentStatusFailed, 3, surge1),
			newPods: rolloutPods("n", 1, false, now), old: rolloutPods("o", 3, true, 0), wantNew: 1},
		{name: "past progress_deadline", d: func() *structs.Deployment {
			d := deployment(running, 3, surge1)
			d.StartTime = now - int64(11*time.Minute)
			return d
		}(), newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1,
			wantStatus: structs.DeploymentStatusFailed, wantFailed: true, wantDescription: "progress_deadline 10m"},
		{name: "progress_deadline counts from the last progress", d: func() *structs.Deployment {
			d := deployment(running, 3, surge1)
			d.StartTime, d.ProgressTime = now-int64(30*time.Minute), now-int64(9*time.Minute)
			return d
		}(), newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1, wantDrain: 1,
			wantStatus: running, wantProgress: true},
		{name: "canaries promoted after a long wait roll on", d: func() *structs.Deployment {
			d := deployment(running, 3, canary)
			d.StartTime, d.ProgressTime, d.Promoted = now-int64(40*time.Minute), now-int64(time.Second), true
			return d
		}(), newPods: rolloutPods("n", 1, true, now), old: rolloutPods("o", 3, true, 0), wantNew: 1, wantDrain: 1,
			wantStatus: running, wantProgress: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &rolloutInput{d: tc.d, strategy: tc.d.Strategy, newPods: tc.newPods, oldPods: tc.old, targetPods: tc.newPods, now: now}
			plan := planRollout(in)
			if plan.newCount != tc.wantNew || len(plan.drain) != tc.wantDrain {
				t.Fatalf("new count %d, %d drained; want %d, %d", plan.newCount, len(plan.drain), tc.wantNew, tc.wantDrain)
			}
			gotStatus := ""
			if plan.update != nil {
				gotStatus = plan.update.Status
			}
			if gotStatus != tc.wantStatus || plan.failed != tc.wantFailed {
				t.Fatalf("status %q failed %v, want %q %v", gotStatus, plan.failed, tc.wantStatus, tc.wantFailed)
			}
			if tc.wantPromote != (plan.update != nil && plan.update.Promote) {
				t.Fatalf("promote = %v, want %v", !tc.wantPromote, tc.wantPromote)
			}
			if got := plan.update != nil && plan.update.ProgressTime == now; got != tc.wantProgress {
				t.Fatalf("progress recorded %v, want %v", got, tc.wantProgress)
			}
			if tc.wantDescription != "" && !strings.Contains(plan.update.StatusDescription, tc.wantDescription) {
				t.Fatalf("description %q, want it to say %q", plan.update.StatusDescription, tc.wantDescription)
			}
			for _, p := range plan.drain {
				if strings.HasPrefix(p.ID, "o") && len(plan.drain) < len(tc.old) && hasPrefix(tc.old, "u") && available(p) {
					t.Fatalf("drained available pod %s before the unavailable ones", p.ID)
				}
			}
		})
	}
}

func hasPrefix(pods []*structs.Pod, prefix string) bool {
	for _, p := range pods {
		if strings.HasPrefix(p.ID, prefix) {
			return true
		}
	}
	return false
}

// TestRolloutStaysWithinBounds steps a rollout pass by pass, every new pod
// turning healthy between passes, and checks the Kubernetes bounds at
// every step: live pods at most count+surge, available at least
// count-unavailable; it must complete.
func TestRolloutStaysWithinBounds(t *testing.T) {
	for _, tc := range []struct {
		count int
		u     *structs.UpdateStrategy
	}{
		{10, structs.DefaultUpdateStrategy()},
		{4, &structs.UpdateStrategy{MaxSurge: 1}},
		{5, &structs.UpdateStrategy{MaxUnavailable: 2}},
		{100, &structs.UpdateStrategy{MaxSurgePercent: 25}},
	} {
		t.Run(fmt.Sprint(tc.count), func(t *testing.T) {
			d := &structs.Deployment{ReplicaSetID: "rs2", Replicas: tc.count, Strategy: tc.u, Status: structs.DeploymentStatusRunning}
			surge, unavailable := resolveStep(tc.u, tc.count)
			old, fresh := rolloutPods("o", tc.count, true, 0), []*structs.Pod(nil)
			for step := 0; step < 4*tc.count+4; step++ {
				plan := planRollout(&rolloutInput{d: d, strategy: tc.u, newPods: fresh, oldPods: old, targetPods: fresh})
				drained := map[string]bool{}
				for _, p := range plan.drain {
					drained[p.ID] = true
				}
				var kept []*structs.Pod
				for _, p := range old {
					if !drained[p.ID] {
						kept = append(kept, p)
					}
				}
				old = kept
				if avail := len(old) + countAvailable(fresh); avail < tc.count-unavailable {
					t.Fatalf("step %d: %d available, below %d-%d", step, avail, tc.count, unavailable)
				}
				for len(fresh) < plan.newCount {
					fresh = append(fresh, rolloutPods(fmt.Sprintf("n%d-", len(fresh)), 1, false, 0)...)
				}
				if live := len(old) + len(fresh); live > tc.count+surge {
					t.Fatalf("step %d: %d live pods, above %d+%d", step, live, tc.count, surge)
				}
				for _, p := range fresh {
					p.Phase, p.Healthy = structs.PodPhaseRunning, true
				}
				if len(old) == 0 && len(fresh) == tc.count {
					return
				}
			}
			t.Fatalf("rollout did not complete: %d old, %d new", len(old), len(fresh))
		})
	}
}

// TestRolloutRecordsAnUnseenStableVersion: a new version registered
// before the controller marked the previous one complete still gets a
// stable version to revert to, when every old pod served.
func TestRolloutRecordsAnUnseenStableVersion(t *testing.T) {
	d := &structs.Deployment{ObjectMeta: structs.ObjectMeta{ID: "web-g"}, ReplicaSetID: "rs2", Replicas: 2,
		Status: structs.DeploymentStatusRunning, Strategy: &structs.UpdateStrategy{MaxSurge: 1}}
	old := rolloutPods("o", 2, true, 0)
	for _, p := range old {
		p.OwnerID = "rs1"
	}
	plan := planRollout(&rolloutInput{d: d, strategy: d.Strategy, oldPods: old, setVersions: map[string]uint64{"rs1": 4, "rs2": 5}})
	if plan.update == nil || plan.update.StableReplicaSetID != "rs1" || plan.update.StableVersion != 4 || plan.update.Status != structs.DeploymentStatusRunning {
		t.Fatalf("update %+v, want rs1 at version 4 recorded as stable with the running status", plan.update)
	}
	old[1].Healthy = false
	if plan := planRollout(&rolloutInput{d: d, strategy: d.Strategy, oldPods: old}); plan.update != nil && plan.update.StableReplicaSetID != "" {
		t.Fatalf("recorded %s as stable while one of its pods does not serve", plan.update.StableReplicaSetID)
	}
}

// TestRollSystemGroup: pods of an older template are drained one node at
// a time, and not while a node's replacement is still on its way.
func TestRollSystemGroup(t *testing.T) {
	oldTmpl := &structs.TaskGroup{Name: "g", Tasks: []*structs.Task{{Name: "t", Driver: "exec", Env: map[string]string{"V": "1"}}}}
	newTmpl := &structs.TaskGroup{Name: "g", Tasks: []*structs.Task{{Name: "t", Driver: "exec", Env: map[string]string{"V": "2"}}}}
	pods := func(tmpls ...*structs.TaskGroup) []*structs.Pod {
		out := rolloutPods("p", len(tmpls), true, 0)
		for i, p := range out {
			p.Template, p.Namespace = tmpls[i], "default"
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		owned   []*structs.Pod
		podless int
		drained int
	}{
		{"one old pod drained at a time", pods(oldTmpl, oldTmpl, oldTmpl), 0, 1},
		{"current pods stay", pods(newTmpl, newTmpl), 0, 0},
		{"a node whose new pod is yet to be made holds the next", pods(oldTmpl, oldTmpl), 1, 0},
		{"a replacement on its way holds the next", func() []*structs.Pod {
			p := pods(newTmpl, oldTmpl, oldTmpl)
			p[0].Healthy = false
			return p
		}(), 0, 0},
		{"the next node once the first is healthy", pods(newTmpl, oldTmpl, oldTmpl), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newPodChanges(1)
			(&view{}).rollSystemGroup(c, newTmpl, tc.owned, tc.podless)
			drained := 0
			for _, p := range c.list() {
				if p.Draining {
					drained++
				}
			}
			if drained != tc.drained {
				t.Fatalf("%d pods drained, want %d", drained, tc.drained)
			}
		})
	}
}
