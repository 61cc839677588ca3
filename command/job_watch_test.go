package command

import (
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

func watchTestJob(typ string, count int) *structs.Job {
	return &structs.Job{ObjectMeta: structs.ObjectMeta{ID: "web"}, Type: typ,
		Groups: []*structs.TaskGroup{{Name: "web", Count: count}}}
}

func watchTestPod(name string, version uint64, phase string, healthy bool, tasks map[string]*structs.TaskState) *structs.Pod {
	return &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: name + "-id", Name: name, CreateIndex: 10},
		Group: "web", JobVersion: version, NodeID: "n1", DesiredStatus: structs.PodDesiredRun,
		Phase: phase, Healthy: healthy, TaskStates: tasks}
}

func withChecks(p *structs.Pod, checks ...*structs.CheckStatus) *structs.Pod {
	p.Checks = checks
	return p
}

func TestJobWatchCheckEvents(t *testing.T) {
	start := time.Unix(100, 0)
	w := newJobWatch(watchTestJob(structs.JobTypeService, 1), 1, 5, start)
	running := map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning}}
	critical := func(at time.Time, out string) *structs.CheckStatus {
		return &structs.CheckStatus{Name: "web-http", Status: structs.CheckCritical, Output: out, Time: at.UnixNano()}
	}
	looks := []struct {
		check *structs.CheckStatus
		want  []string
	}{
		{critical(start.Add(-time.Second), "HTTP 500"), nil}, // before the run: not news
		{critical(start.Add(time.Second), "HTTP 503 Service Unavailable"), []string{`pod web[0]: check "web-http" critical: HTTP 503 Service Unavailable`}},
		{critical(start.Add(time.Second), "HTTP 503 Service Unavailable"), nil}, // said once
		{&structs.CheckStatus{Name: "web-http", Status: structs.CheckPassing, Time: start.Add(2 * time.Second).UnixNano()}, nil},
		{critical(start.Add(3*time.Second), "dial tcp: connection refused"), []string{`pod web[0]: check "web-http" critical: dial tcp: connection refused`}},
	}
	for i, l := range looks {
		res := w.observe([]*structs.Pod{withChecks(watchTestPod("web[0]", 1, structs.PodPhaseRunning, false, running), l.check)})
		if strings.Join(res.events, "|") != strings.Join(l.want, "|") {
			t.Fatalf("look %d: events = %q, want %q", i, res.events, l.want)
		}
	}
}

func TestJobWatchProgressAndDone(t *testing.T) {
	start := time.Unix(100, 0)
	running := map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning}}
	cases := []struct {
		name     string
		job      *structs.Job
		pods     []*structs.Pod
		progress string
		done     bool
	}{
		{"running but not yet healthy", watchTestJob(structs.JobTypeService, 2),
			[]*structs.Pod{watchTestPod("web[0]", 1, structs.PodPhaseRunning, true, running), watchTestPod("web[1]", 1, structs.PodPhaseRunning, false, running)},
			"web: 1/2 healthy, 1 running", false},
		{"all healthy", watchTestJob(structs.JobTypeService, 2),
			[]*structs.Pod{watchTestPod("web[0]", 1, structs.PodPhaseRunning, true, running), watchTestPod("web[1]", 1, structs.PodPhaseRunning, true, running)},
			"web: 2/2 healthy", true},
		{"old version does not count", watchTestJob(structs.JobTypeService, 1),
			[]*structs.Pod{watchTestPod("web[0]", 0, structs.PodPhaseRunning, true, running)},
			"web: 0/1 healthy", false},
		{"pending with reason", watchTestJob(structs.JobTypeService, 1),
			[]*structs.Pod{{ObjectMeta: structs.ObjectMeta{Name: "web[0]"}, Group: "web", JobVersion: 1, DesiredStatus: structs.PodDesiredRun,
				Phase: structs.PodPhasePending, PendingReason: "no node has driver \"docker\""}},
			`web: 0/1 healthy, 1 pending (no node has driver "docker")`, false},
		{"restarting", watchTestJob(structs.JobTypeService, 1),
			[]*structs.Pod{watchTestPod("web[0]", 1, structs.PodPhaseRunning, false, map[string]*structs.TaskState{"t": {State: structs.TaskStateRestarting}})},
			"web: 0/1 healthy, 1 restarting", false},
		{"batch", watchTestJob(structs.JobTypeBatch, 2),
			[]*structs.Pod{watchTestPod("web[0]", 1, structs.PodPhaseSucceeded, false, nil), watchTestPod("web[1]", 1, structs.PodPhaseRunning, true, running)},
			"web: 1/2 succeeded, 1 running", false},
		{"running, a check fails", watchTestJob(structs.JobTypeService, 1),
			[]*structs.Pod{withChecks(watchTestPod("web[0]", 1, structs.PodPhaseRunning, false, running),
				&structs.CheckStatus{Name: "web-http", Status: structs.CheckCritical, Output: "HTTP 503 Service Unavailable"})},
			`web: 0/1 healthy, 1 running (check "web-http" critical: HTTP 503 Service Unavailable)`, false},
		{"system without pods is not done", watchTestJob(structs.JobTypeSystem, 0), nil, "web: 0/0 healthy", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newJobWatch(tc.job, 1, 5, start)
			res := w.observe(tc.pods)
			if got := w.progress(res); got != tc.progress {
				t.Errorf("progress = %q, want %q", got, tc.progress)
			}
			if got := w.done(res); got != tc.done {
				t.Errorf("done = %v, want %v", got, tc.done)
			}
		})
	}
}

func TestJobWatchReportsRestartsOnce(t *testing.T) {
	start := time.Unix(100, 0)
	w := newJobWatch(watchTestJob(structs.JobTypeService, 1), 1, 5, start)
	ts := &structs.TaskState{State: structs.TaskStateRestarting, Events: []*structs.TaskEvent{
		{Type: structs.TaskEventStarted, Time: start.Add(time.Second).UnixNano()},
		{Type: structs.TaskEventTerminated, Message: "exit code 1", Output: "bind: Address already in use", ExitCode: 1, Time: start.Add(2 * time.Second).UnixNano()},
		{Type: structs.TaskEventRestarting, Message: "restarting in 15s", Time: start.Add(2 * time.Second).UnixNano()},
	}}
	pod := watchTestPod("web.web[1]", 1, structs.PodPhaseRunning, false, map[string]*structs.TaskState{"t": ts})
	res := w.observe([]*structs.Pod{pod})
	want := `pod web.web[1]: task "t" exit code 1 (bind: Address already in use) — restarting in 15s`
	if len(res.events) != 1 || res.events[0] != want {
		t.Fatalf("events = %q, want [%q]", res.events, want)
	}
	if again := w.observe([]*structs.Pod{pod}); len(again.events) != 0 {
		t.Fatalf("reported twice: %q", again.events)
	}
	// The policy gives up: the pod fails, and that is news.
	ts.State, ts.Failed = structs.TaskStateDead, true
	ts.Events = append(ts.Events,
		&structs.TaskEvent{Type: structs.TaskEventStarted, Time: start.Add(17 * time.Second).UnixNano()},
		&structs.TaskEvent{Type: structs.TaskEventTerminated, Message: "exit code 1", Output: "bind: Address already in use", Time: start.Add(18 * time.Second).UnixNano()},
		&structs.TaskEvent{Type: structs.TaskEventNotRestart, Message: "restart attempts exhausted", Time: start.Add(18 * time.Second).UnixNano()})
	pod.Phase = structs.PodPhaseFailed
	res = w.observe([]*structs.Pod{pod})
	if len(res.events) != 1 || !strings.HasSuffix(res.events[0], "— restart attempts exhausted") {
		t.Fatalf("events = %q", res.events)
	}
	if res.failed != pod {
		t.Fatal("the failed pod is not reported as failed")
	}
	if got, want := pod.Reason(), "exit code 1 (bind: Address already in use), restart attempts exhausted"; got != want {
		t.Fatalf("reason = %q, want %q", got, want)
	}
}

func TestJobWatchIgnoresOldEventsOfOldPods(t *testing.T) {
	start := time.Unix(100, 0)
	w := newJobWatch(watchTestJob(structs.JobTypeService, 1), 1, 50, start)
	ts := &structs.TaskState{State: structs.TaskStateRunning, Events: []*structs.TaskEvent{
		{Type: structs.TaskEventRestarting, Message: "restarting in 15s", Time: start.Add(-time.Minute).UnixNano()},
	}}
	pod := watchTestPod("web[0]", 1, structs.PodPhaseRunning, true, map[string]*structs.TaskState{"t": ts})
	if res := w.observe([]*structs.Pod{pod}); len(res.events) != 0 {
		t.Fatalf("an old pod's old restart was reported: %q", res.events)
	}
}

func TestWatchDeadline(t *testing.T) {
	job := watchTestJob(structs.JobTypeService, 1)
	if got := watchDeadline(job); got != 5*time.Minute {
		t.Fatalf("default = %s", got)
	}
	job.Groups[0].Update = &structs.UpdateStrategy{HealthyDeadline: "40s"}
	if got := watchDeadline(job); got != 40*time.Second {
		t.Fatalf("healthy_deadline = %s", got)
	}
	if got := watchDeadline(watchTestJob(structs.JobTypeBatch, 1)); got != 0 {
		t.Fatalf("batch = %s", got)
	}
}

func TestProgressWriterOffTerminal(t *testing.T) {
	var b strings.Builder
	pw := &progressWriter{out: &b}
	now := time.Unix(0, 0)
	pw.update("a", now)
	pw.update("a", now.Add(time.Second))            // unchanged and not due: quiet
	pw.update("a", now.Add(11*time.Second))         // due
	pw.update("b", now.Add(11500*time.Millisecond)) // changed
	if got, want := b.String(), "    a\n    a\n    b\n"; got != want {
		t.Fatalf("output = %q, want %q", got, want)
	}
}
