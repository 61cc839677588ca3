package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// slurmJob is a batch job of one gpu-slurm task running script, with a
// staged file data.txt, asking for gpus GPUs; it is not restarted.
func slurmJob(name, script string, gpus int) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Type:       structs.JobTypeBatch,
		Groups: []*structs.TaskGroup{{
			Name:    "g",
			Count:   1,
			Restart: &structs.RestartPolicy{Attempts: 0, Interval: "1m", Delay: "100ms", Mode: structs.RestartModeFail},
			Tasks: []*structs.Task{{
				Name:   "main",
				Driver: "gpu-slurm",
				Config: &structs.TaskConfig{
					Script: "#!/bin/sh\n" + script + "\n",
					Files:  map[string]string{"data.txt": "staged-" + name},
					GPUs:   gpus,
					Time:   "10m",
				},
				Resources: &structs.Resources{CPU: 10, MemoryMB: 10},
			}},
		}},
	}
}

// slurmAgent starts a Slurm cluster with gpus GPUs and an agent whose
// gpu-slurm driver submits to it, and waits until the node offers the
// driver and the GPUs.
func slurmAgent(t *testing.T, gpus int) (*testutil.Slurm, *testutil.Agent, *api.Client) {
	t.Helper()
	s := testutil.StartSlurm(t, gpus)
	a := testutil.NewClientAgent(t, "agent-1", s.ClientConfig())
	cl := clientAt(t, a.Addr())
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		nodes, _, err := cl.Nodes(nil)
		if err != nil || len(nodes) != 1 {
			return false, fmt.Errorf("nodes %d: %v", len(nodes), err)
		}
		n, err := cl.Node(nodes[0].ID, nil)
		if err != nil {
			return false, err
		}
		d := n.Drivers["gpu-slurm"]
		if d == nil || !d.Healthy || n.Resources.GPUs != gpus {
			return false, fmt.Errorf("driver %+v, gpus %d (want %d)", d, n.Resources.GPUs, gpus)
		}
		return true, nil
	})
	return s, a, cl
}

// onePod waits until the job's only pod satisfies cond, and returns it.
func onePod(t *testing.T, cl *api.Client, job string, deadline time.Duration, what string, cond func(p *structs.Pod) bool) *structs.Pod {
	t.Helper()
	var got *structs.Pod
	testutil.WaitFor(t, deadline, func() (bool, error) {
		pods, _, err := cl.Pods(job, nil)
		if err != nil || len(pods) != 1 {
			return false, fmt.Errorf("%d pods of %s: %v", len(pods), job, err)
		}
		got = pods[0]
		if cond(got) {
			return true, nil
		}
		return false, fmt.Errorf("pod of %s is not %s: phase %s, reason %q, tasks %s", job, what, got.Phase, got.Reason(), describeTasks(got))
	})
	return got
}

// podWhere waits until a pod of the job (the first of them, as listed)
// satisfies cond, and returns it: for jobs whose failed pods the servers
// replace.
func podWhere(t *testing.T, cl *api.Client, job string, deadline time.Duration, what string, cond func(p *structs.Pod) bool) *structs.Pod {
	t.Helper()
	var got *structs.Pod
	testutil.WaitFor(t, deadline, func() (bool, error) {
		pods, _, err := cl.Pods(job, nil)
		if err != nil {
			return false, err
		}
		var seen []string
		for _, p := range pods {
			if cond(p) {
				got = p
				return true, nil
			}
			seen = append(seen, fmt.Sprintf("%s: phase %s, tasks %s", p.Name, p.Phase, describeTasks(p)))
		}
		return false, fmt.Errorf("no pod of %s is %s: %s", job, what, strings.Join(seen, "; "))
	})
	return got
}

// podID matches the pod with an ID.
func podID(id string, cond func(p *structs.Pod) bool) func(p *structs.Pod) bool {
	return func(p *structs.Pod) bool { return p.ID == id && cond(p) }
}

// describeTasks is the pod's task states with their details.
func describeTasks(p *structs.Pod) string {
	var parts []string
	for name, ts := range p.TaskStates {
		last := ""
		if n := len(ts.Events); n > 0 {
			last = ts.Events[n-1].Type + ": " + ts.Events[n-1].Message
		}
		parts = append(parts, fmt.Sprintf("%s=%s exit=%d details=%v last=%q", name, ts.State, ts.ExitCode, ts.Details, last))
	}
	return strings.Join(parts, "; ")
}

// slurmID is the Slurm job ID of the pod's task.
func slurmID(p *structs.Pod) string {
	if ts := p.TaskStates["main"]; ts != nil {
		return ts.Details["slurm_job_id"]
	}
	return ""
}

func taskIs(state string) func(p *structs.Pod) bool {
	return func(p *structs.Pod) bool {
		ts := p.TaskStates["main"]
		return ts != nil && ts.State == state && slurmID(p) != ""
	}
}

func phaseIs(phase string) func(p *structs.Pod) bool {
	return func(p *structs.Pod) bool { return p.Phase == phase }
}

// TestSlurmJobs runs gpu-slurm tasks on a real Slurm: a job that succeeds
// (its staged file read, its output in the task's log), one that fails
// with its exit code, one whose output streams to `mk pod logs -f` while
// it runs, and one stopped by `mk job stop` (cancelled: gone from
// squeue). `mk pod status` shows the Slurm job ID, state, partition and
// GPUs.
func TestSlurmJobs(t *testing.T) {
	s, a, cl := slurmAgent(t, 2)
	dir := testutil.HostDir(t)

	runJob(t, cl, slurmJob("ok", `cat data.txt; echo " gpus=$CUDA_VISIBLE_DEVICES"; echo to-stderr >&2`, 1))
	runJob(t, cl, slurmJob("fails", "echo failing >&2; exit 7", 0))

	ok := onePod(t, cl, "ok", 30*time.Second, "succeeded", phaseIs(structs.PodPhaseSucceeded))
	if st := s.JobState(t, slurmID(ok)); st != "COMPLETED" {
		t.Errorf("slurm job %s is %q, want COMPLETED", slurmID(ok), st)
	}
	stdout, _, _ := runMk(t, a.Addr(), "pod", "logs", ok.ID)
	if !strings.HasPrefix(stdout, "staged-ok gpus=") {
		t.Errorf("stdout log %q, want the staged file's content", stdout)
	}
	stderr, _, _ := runMk(t, a.Addr(), "pod", "logs", "-stderr", ok.ID)
	if strings.TrimSpace(stderr) != "to-stderr" {
		t.Errorf("stderr log %q, want to-stderr", stderr)
	}
	status, _, _ := runMk(t, a.Addr(), "pod", "status", ok.ID)
	for _, want := range []string{"Slurm Job ID = " + slurmID(ok), "Slurm State  = COMPLETED", "Partition    = gpu", "GPUs         = 1", "gpus 1 ("} {
		if !strings.Contains(status, want) {
			t.Errorf("pod status lacks %q:\n%s", want, status)
		}
	}

	// The servers replace a failed batch pod: look at the first.
	failed := podWhere(t, cl, "fails", 30*time.Second, "failed", phaseIs(structs.PodPhaseFailed))
	if ts := failed.TaskStates["main"]; ts.ExitCode != 7 || ts.Details["slurm_state"] != "FAILED" {
		t.Errorf("failed task: exit %d, details %v; want exit 7, FAILED", ts.ExitCode, ts.Details)
	}
	if _, err := cl.DeregisterJob(t.Context(), "fails", false); err != nil {
		t.Fatal(err)
	}

	// Output streams while the job runs: line 1, then line 2 once the
	// test lets it go on.
	gate := filepath.Join(dir, "go")
	runJob(t, cl, slurmJob("stream", fmt.Sprintf("echo line-1; while [ ! -e %s ]; do sleep 0.1; done; echo line-2", gate), 0))
	streaming := onePod(t, cl, "stream", 30*time.Second, "running", taskIs(structs.TaskStateRunning))
	follow := mkCommand(t, a.Addr(), "pod", "logs", "-f", streaming.ID)
	var followErr strings.Builder
	follow.Stderr = &followErr
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expectLine(t, lines, "line-1", &followErr)
	if st := s.JobState(t, slurmID(streaming)); st != "RUNNING" {
		t.Errorf("slurm job is %q while its first line streamed, want RUNNING", st)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expectLine(t, lines, "line-2", &followErr)
	onePod(t, cl, "stream", 30*time.Second, "succeeded", phaseIs(structs.PodPhaseSucceeded))

	// mk job stop cancels the job.
	runJob(t, cl, slurmJob("long", "sleep 300", 1))
	long := onePod(t, cl, "long", 30*time.Second, "running", taskIs(structs.TaskStateRunning))
	if _, stderr, code := runMk(t, a.Addr(), "job", "stop", "long"); code != 0 {
		t.Fatalf("job stop: exit %d: %s", code, stderr)
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		out, err := s.Try("squeue", "-h", "-j", slurmID(long), "-o", "%T")
		return err == nil && strings.TrimSpace(out) == "", fmt.Errorf("job %s still in squeue: %q %v", slurmID(long), out, err)
	})
	if st := s.JobState(t, slurmID(long)); st != "CANCELLED" && st != "FAILED" {
		t.Errorf("stopped job is %q, want CANCELLED", st)
	}
}

// expectLine waits for a line on lines.
func expectLine(t *testing.T, lines <-chan string, want string, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs ended before %q: %s", want, stderr)
			}
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("no line %q within 30s", want)
		}
	}
}

// TestSlurmPendingOnGPUs: a job whose GPUs another Slurm user holds waits
// in Slurm's queue: its task is pending with Slurm's reason, shown by
// `mk pod status`, and runs once the GPUs are free. A job asking for more
// GPUs than the node has stays unplaced with `no node has 3 free GPUs`.
func TestSlurmPendingOnGPUs(t *testing.T) {
	s, a, cl := slurmAgent(t, 2)
	blocker := strings.TrimSpace(s.Run(t, "sbatch", "--parsable", "--output=/dev/null", "--gres=gpu:2", "--wrap", "sleep 300"))
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		st := s.JobState(t, blocker)
		return st == "RUNNING", fmt.Errorf("blocker is %q", st)
	})
	runJob(t, cl, slurmJob("waits", "echo ran", 1))
	p := onePod(t, cl, "waits", 30*time.Second, "pending in Slurm", func(p *structs.Pod) bool {
		ts := p.TaskStates["main"]
		return ts != nil && ts.State == structs.TaskStatePending && ts.Details["reason"] == "Resources"
	})
	if p.Phase != structs.PodPhasePending {
		t.Errorf("pod phase %s, want pending", p.Phase)
	}
	status, _, _ := runMk(t, a.Addr(), "pod", "status", p.ID)
	for _, want := range []string{`Task "main" is "pending"`, "Slurm State  = PENDING", "Reason       = Resources"} {
		if !strings.Contains(status, want) {
			t.Errorf("pod status lacks %q:\n%s", want, status)
		}
	}
	s.Run(t, "scancel", blocker)
	onePod(t, cl, "waits", 30*time.Second, "succeeded", phaseIs(structs.PodPhaseSucceeded))

	runJob(t, cl, slurmJob("too-big", "echo never", 3))
	onePod(t, cl, "too-big", 15*time.Second, "unplaced", func(p *structs.Pod) bool {
		return p.NodeID == "" && p.PendingReason == "no node has 3 free GPUs"
	})
}

// TestSlurmRecoverAfterKill9: kill -9 the agent while two jobs run; one
// ends (exit 3) while the agent is down. After the restart both tasks are
// recovered by job ID, not submitted again: the one that ended reports
// its real exit code, the other runs on and succeeds.
func TestSlurmRecoverAfterKill9(t *testing.T) {
	s, a, cl := slurmAgent(t, 2)
	dir := testutil.HostDir(t)
	wait := func(gate string, code int) string {
		return fmt.Sprintf("while [ ! -e %s ]; do sleep 0.1; done; exit %d", filepath.Join(dir, gate), code)
	}
	runJob(t, cl, slurmJob("ends-while-down", wait("a", 3), 1))
	runJob(t, cl, slurmJob("runs-on", wait("b", 0), 1))
	before, pods := map[string]string{}, map[string]string{}
	for _, job := range []string{"ends-while-down", "runs-on"} {
		p := onePod(t, cl, job, 30*time.Second, "running", taskIs(structs.TaskStateRunning))
		before[job], pods[job] = slurmID(p), p.ID
	}
	a.Kill()
	if err := os.WriteFile(filepath.Join(dir, "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		st := s.JobState(t, before["ends-while-down"])
		return st == "FAILED", fmt.Errorf("job is %q", st)
	})
	a.Restart()
	cl = clientAt(t, a.Addr())
	ended := podWhere(t, cl, "ends-while-down", 30*time.Second, "failed", podID(pods["ends-while-down"], phaseIs(structs.PodPhaseFailed)))
	if ts := ended.TaskStates["main"]; ts.ExitCode != 3 || slurmID(ended) != before["ends-while-down"] {
		t.Errorf("ended task: exit %d, job %s; want exit 3 of job %s", ts.ExitCode, slurmID(ended), before["ends-while-down"])
	}
	if _, err := cl.DeregisterJob(t.Context(), "ends-while-down", false); err != nil {
		t.Fatal(err) // no replacement of the failed pod
	}
	runsOn := onePod(t, cl, "runs-on", 30*time.Second, "recovered", func(p *structs.Pod) bool {
		ts := p.TaskStates["main"]
		return ts != nil && ts.State == structs.TaskStateRunning && len(ts.Events) > 0 &&
			ts.Events[len(ts.Events)-1].Type == structs.TaskEventRecovered
	})
	if slurmID(runsOn) != before["runs-on"] || runsOn.ID != pods["runs-on"] {
		t.Errorf("recovered pod %s follows job %s, want pod %s, job %s", runsOn.ID, slurmID(runsOn), pods["runs-on"], before["runs-on"])
	}
	if err := os.WriteFile(filepath.Join(dir, "b"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	onePod(t, cl, "runs-on", 30*time.Second, "succeeded", phaseIs(structs.PodPhaseSucceeded))
	// Each pod's task was submitted once: one Slurm job per pod.
	for job, id := range pods {
		if ids := s.JobsWithComment(t, "mk:"+runsOn.NodeID+":"+id+"/main"); len(ids) != 1 {
			t.Errorf("slurm has jobs %v for the pod of %s, want one: submitted again", ids, job)
		}
	}
}

// TestSlurmGPUAccounting: the scheduler counts GPUs: two 1-GPU pods on a
// node with one GPU (its Slurm partition's): one runs, the other waits
// unplaced until the first is done.
func TestSlurmGPUAccounting(t *testing.T) {
	_, _, cl := slurmAgent(t, 1)
	dir := testutil.HostDir(t)
	job := slurmJob("two", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.1; done", filepath.Join(dir, "go")), 1)
	job.Groups[0].Count = 2
	runJob(t, cl, job)
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("two", nil)
		if err != nil || len(pods) != 2 {
			return false, fmt.Errorf("%d pods: %v", len(pods), err)
		}
		running, waiting := 0, 0
		for _, p := range pods {
			switch {
			case taskIs(structs.TaskStateRunning)(p) && len(p.GPUs) == 1 && p.GPUs[0] == 0:
				running++
			case p.NodeID == "" && p.PendingReason == "no node has 1 free GPU":
				waiting++
			}
		}
		return running == 1 && waiting == 1, fmt.Errorf("%d running on GPU 0, %d waiting", running, waiting)
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPods(t, cl, "two", 2, phaseIs(structs.PodPhaseSucceeded))
}
