package command

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// jobWatch follows the pods of one job version after a run and says, from
// each list of pods, how far each group got, which restarts and failures
// happened since the last look, and whether the run is over. It holds no
// connection and no clock of its own, so it is tested with made-up pods.
type jobWatch struct {
	job     *structs.Job
	version uint64
	// sinceIndex is the Raft index of the register: pods created before
	// it are older than the run, and so are their failures.
	sinceIndex uint64
	// start is when the watch began; events before it are not news.
	start int64
	// reported holds the time of the latest event reported per task.
	reported map[string]int64
}

func newJobWatch(job *structs.Job, version, sinceIndex uint64, start time.Time) *jobWatch {
	return &jobWatch{job: job, version: version, sinceIndex: sinceIndex, start: start.UnixNano(), reported: map[string]int64{}}
}

// groupProgress is where one group stands.
type groupProgress struct {
	name string
	// want is the group's count (system groups: the pods made for them).
	want                                             int
	healthy, running, restarting, pending, succeeded int
	// pendingReason says why pods wait for a node; checkReason why a
	// running pod is not healthy: a check that fails.
	pendingReason, checkReason string
}

// watchResult is one look at the job's pods.
type watchResult struct {
	groups []*groupProgress
	// events are the restarts and failures since the last look, a line
	// each.
	events []string
	// failed is a pod of this run that failed for good.
	failed *structs.Pod
}

// observe looks at the job's pods.
func (w *jobWatch) observe(pods []*structs.Pod) *watchResult {
	res := &watchResult{}
	byGroup := map[string]*groupProgress{}
	for _, g := range w.job.Groups {
		gp := &groupProgress{name: g.Name, want: g.Count}
		if w.job.Type == structs.JobTypeSystem {
			gp.want = 0
		}
		byGroup[g.Name] = gp
		res.groups = append(res.groups, gp)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		gp := byGroup[p.Group]
		if gp == nil || p.JobVersion != w.version {
			continue
		}
		res.events = append(res.events, w.newEvents(p)...)
		res.events = append(res.events, w.newCheckEvents(p)...)
		if p.Phase == structs.PodPhaseFailed && p.CreateIndex >= w.sinceIndex && p.DesiredReason == "" && res.failed == nil {
			res.failed = p
		}
		w.count(gp, p)
	}
	return res
}

// count adds a pod to its group's progress.
func (w *jobWatch) count(gp *groupProgress, p *structs.Pod) {
	if p.Phase == structs.PodPhaseSucceeded {
		gp.succeeded++
		return
	}
	if p.DesiredStatus != structs.PodDesiredRun || p.Terminal() {
		return
	}
	if w.job.Type == structs.JobTypeSystem {
		gp.want++
	}
	switch {
	case p.NodeID == "" || p.Phase == structs.PodPhasePending:
		gp.pending++
		if p.PendingReason != "" {
			gp.pendingReason = p.PendingReason
		}
	case podRestarting(p):
		gp.restarting++
	case p.Healthy && w.job.Type != structs.JobTypeBatch:
		gp.healthy++
	default:
		gp.running++
		if c := p.FailingCheck(); c != nil {
			gp.checkReason = c.Describe()
		}
	}
}

func podRestarting(p *structs.Pod) bool {
	for _, ts := range p.TaskStates {
		if ts.State == structs.TaskStateRestarting {
			return true
		}
	}
	return false
}

// newEvents describes the restarts and failures of a pod's tasks that
// were not reported yet: "pod web.web[1]: task "t" exit code 1 (…) —
// restarting in 15s".
func (w *jobWatch) newEvents(p *structs.Pod) []string {
	names := make([]string, 0, len(p.TaskStates))
	for name := range p.TaskStates {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		ts := p.TaskStates[name]
		k := p.ID + "/" + name
		since := w.reported[k]
		if p.CreateIndex < w.sinceIndex {
			since = max(since, w.start)
		}
		var exit string
		for _, e := range ts.Events {
			if e.Type == structs.TaskEventTerminated {
				exit = e.Describe()
			}
			if e.Time <= since {
				continue
			}
			w.reported[k] = e.Time
			if line := eventLine(e, exit); line != "" {
				out = append(out, fmt.Sprintf("pod %s: task %q %s", p.Name, name, line))
			}
		}
	}
	return out
}

// newCheckEvents describes the checks of a pod that turned critical since
// the last look: "pod web.web[0]: check "web-http" critical: HTTP 503".
func (w *jobWatch) newCheckEvents(p *structs.Pod) []string {
	var out []string
	for _, c := range p.Checks {
		k := p.ID + "/check/" + c.Name
		if c.Status != structs.CheckCritical || c.Time <= max(w.reported[k], w.start) {
			continue
		}
		w.reported[k] = c.Time
		out = append(out, fmt.Sprintf("pod %s: %s", p.Name, c.Describe()))
	}
	return out
}

// eventLine is what job run says of an event, "" for routine ones. exit
// is the task's latest exit before it.
func eventLine(e *structs.TaskEvent, exit string) string {
	switch e.Type {
	case structs.TaskEventRestarting, structs.TaskEventNotRestart:
		return fmt.Sprintf("%s — %s", firstNonEmpty(exit, "exited"), e.Message)
	case structs.TaskEventDriverErr:
		return "failed to start: " + e.Message
	}
	return ""
}

// done reports whether every group got where the run wants it: service
// and system groups all healthy, batch groups all succeeded.
func (w *jobWatch) done(res *watchResult) bool {
	for _, gp := range res.groups {
		switch {
		case w.job.Type == structs.JobTypeBatch:
			if gp.succeeded < gp.want {
				return false
			}
		case w.job.Type == structs.JobTypeSystem && gp.want == 0:
			return false
		case gp.healthy < gp.want:
			return false
		}
	}
	return true
}

// pendingReason is why some pods of the run wait for a node, "" when none
// do.
func (res *watchResult) pendingReason() string {
	for _, gp := range res.groups {
		if gp.pendingReason != "" {
			return gp.pendingReason
		}
	}
	return ""
}

// progress is the one-line state of every group: "web: 1/2 healthy,
// 1 pending (no node has …)".
func (w *jobWatch) progress(res *watchResult) string {
	parts := make([]string, 0, len(res.groups))
	for _, gp := range res.groups {
		parts = append(parts, w.groupLine(gp))
	}
	return strings.Join(parts, "; ")
}

func (w *jobWatch) groupLine(gp *groupProgress) string {
	var b strings.Builder
	if w.job.Type == structs.JobTypeBatch {
		fmt.Fprintf(&b, "%s: %d/%d succeeded", gp.name, gp.succeeded, gp.want)
	} else {
		fmt.Fprintf(&b, "%s: %d/%d healthy", gp.name, gp.healthy, gp.want)
	}
	if gp.running > 0 {
		fmt.Fprintf(&b, ", %d running", gp.running)
		if gp.checkReason != "" {
			fmt.Fprintf(&b, " (%s)", gp.checkReason)
		}
	}
	if gp.restarting > 0 {
		fmt.Fprintf(&b, ", %d restarting", gp.restarting)
	}
	if gp.pending > 0 {
		fmt.Fprintf(&b, ", %d pending", gp.pending)
		if gp.pendingReason != "" {
			fmt.Fprintf(&b, " (%s)", gp.pendingReason)
		}
	}
	return b.String()
}

// watchDeadline is how long job run follows a job by default: the longest
// healthy_deadline of its groups; 0 (no bound) for batch jobs, which run
// as long as they run.
func watchDeadline(job *structs.Job) time.Duration {
	var d time.Duration
	for _, g := range job.Groups {
		u := g.Update
		if u == nil {
			if job.Type == structs.JobTypeBatch {
				continue
			}
			u = structs.DefaultUpdateStrategy()
		}
		if hd, err := structs.ParseDuration(u.HealthyDeadline); err == nil {
			d = max(d, hd)
		}
	}
	return d
}
