package client

import (
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// podHealth is a pod's health verdict at now: healthy once every task of
// the group runs and has run for minHealthy since the latest (re)start of
// any of them. While every task runs but the time is not up, recheck is
// how long until it is; otherwise it is 0. A restart resets the clock:
// the restarted task's StartedAt is the new latest start.
func podHealth(tasks []*structs.Task, states map[string]*structs.TaskState, minHealthy time.Duration, now time.Time) (healthy bool, recheck time.Duration) {
	var latest int64
	for _, t := range tasks {
		st := states[t.Name]
		if st == nil || st.State != structs.TaskStateRunning {
			return false, 0
		}
		latest = max(latest, st.StartedAt)
	}
	if len(tasks) == 0 {
		return false, 0
	}
	due := time.Unix(0, latest).Add(minHealthy)
	if wait := due.Sub(now); wait > 0 {
		return false, wait
	}
	return true, 0
}

// minHealthyTime is how long a pod of the group must run without a
// restart to count as healthy: the update block's min_healthy_time, 0
// for groups without one (batch and system groups).
func minHealthyTime(g *structs.TaskGroup) time.Duration {
	if g == nil || g.Update == nil {
		return 0
	}
	d, err := structs.ParseDuration(g.Update.MinHealthyTime)
	if err != nil {
		return 0
	}
	return d
}
