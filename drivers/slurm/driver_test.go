package slurm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/slurm"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// newDriver is a driver on the test's Slurm, polling fast.
func newDriver(t *testing.T, s *testutil.Slurm) *slurm.Driver {
	d := slurm.New(nil, slurm.Config{Partition: "gpu", SlurmConf: s.Conf, PollInterval: 100 * time.Millisecond})
	t.Cleanup(d.Close)
	return d
}

// taskConfig is a gpu-slurm task running script in a fresh directory.
func taskConfig(t *testing.T, name, script string, gpus int) *drivers.TaskConfig {
	dir := filepath.Join(testutil.HostDir(t), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &drivers.TaskConfig{
		ID: "pod-" + name + "/main", PodID: "pod-" + name, Name: "main", JobID: name, TaskDir: dir,
		StdoutPath: filepath.Join(dir, "stdout.log"), StderrPath: filepath.Join(dir, "stderr.log"),
		Task: &structs.Task{Name: "main", Driver: slurm.Name, Env: map[string]string{"FROM_TASK": "yes"}, Config: &structs.TaskConfig{
			Script: "#!/bin/sh\n" + script + "\n", GPUs: gpus, Files: map[string]string{"in/data.txt": "staged"},
			Env: map[string]string{"FROM_CONFIG": "too"},
		}},
	}
}

// wait waits for the task's exit.
func wait(t *testing.T, d *slurm.Driver, id string) *drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch, err := d.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := <-ch
	if !ok {
		t.Fatalf("task %s did not exit within 60s", id)
	}
	return res
}

// TestDriverOnSlurm drives a real one-node Slurm: the fingerprint, a job
// that succeeds (staged files, environment, output in the task's log),
// one that fails with its exit code, one that waits in the queue for
// GPUs (pending, with Slurm's reason), a stop, and recovery by a new
// driver (a restarted plugin) of a job that ended meanwhile.
func TestDriverOnSlurm(t *testing.T) {
	s := testutil.StartSlurm(t, 2)
	d := newDriver(t, s)

	fp, err := d.Fingerprint(context.Background())
	if err != nil || !fp.Healthy || fp.Attributes[slurm.AttrGPUs] != "2" || fp.Attributes[slurm.AttrPartitions] != "gpu" ||
		fp.Attributes[slurm.AttrVersion] == "" {
		t.Fatalf("fingerprint %+v %v", fp, err)
	}

	ok := taskConfig(t, "ok", `cat in/data.txt; echo " $FROM_TASK $FROM_CONFIG"`, 1)
	h, err := d.StartTask(ok)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d, ok.ID); !res.Successful() {
		t.Fatalf("exit %+v", res)
	}
	if out, _ := os.ReadFile(ok.StdoutPath); string(out) != "staged yes too\n" {
		t.Errorf("stdout %q", out)
	}
	st, err := d.InspectTask(ok.ID)
	if err != nil || st.State != drivers.TaskStateExited || st.Details["slurm_state"] != "COMPLETED" || st.Details["gpus"] != "1" {
		t.Errorf("status %+v %v", st, err)
	}

	fails := taskConfig(t, "fails", "exit 7", 0)
	if _, err := d.StartTask(fails); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d, fails.ID); res.ExitCode != 7 || res.Successful() {
		t.Errorf("exit %+v, want 7", res)
	}

	// Both GPUs held: a 1-GPU job waits, pending with Slurm's reason.
	hold := taskConfig(t, "hold", "sleep 300", 2)
	if _, err := d.StartTask(hold); err != nil {
		t.Fatal(err)
	}
	waits := taskConfig(t, "waits", "true", 1)
	if _, err := d.StartTask(waits); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		st, err := d.InspectTask(waits.ID)
		if err != nil {
			return false, err
		}
		return st.State == drivers.TaskStatePending && st.Details["reason"] == "Resources", errors.New("not pending on Resources: " + st.State + " " + st.Details["reason"])
	})
	if err := d.StopTask(hold.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, d, hold.ID); res.Successful() || res.Err == nil {
		t.Errorf("stopped job's exit %+v, want a failure naming it", res)
	}
	if res := wait(t, d, waits.ID); !res.Successful() {
		t.Errorf("waiting job's exit %+v", res)
	}

	// Recovery: a job that ends while no driver follows it.
	gate := filepath.Join(testutil.HostDir(t), "go")
	later := taskConfig(t, "later", "while [ ! -e "+gate+" ]; do sleep 0.1; done; exit 4", 0)
	lh, err := d.StartTask(later)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	id := jobID(t, d, later.ID)
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		st := s.JobState(t, id)
		return st == "FAILED", errors.New("job is " + st)
	})
	d2 := newDriver(t, s)
	for _, handle := range []*drivers.TaskHandle{h, lh} {
		if err := d2.RecoverTask(handle); err != nil {
			t.Fatal(err)
		}
	}
	if res := wait(t, d2, later.ID); res.ExitCode != 4 {
		t.Errorf("recovered exit %+v, want 4", res)
	}
	if res := wait(t, d2, ok.ID); !res.Successful() {
		t.Errorf("recovered finished job's exit %+v", res)
	}
	if ids := s.JobsNamed(t, "mk.later.main"); len(ids) != 1 {
		t.Errorf("jobs %v, want one", ids)
	}
	// A job of this node's for a pod it does not run (no handle) is
	// cancelled by reconcile; another node's is left.
	orphan := strings.TrimSpace(s.Run(t, "sbatch", "--parsable", "--output=/dev/null", "--comment=mk:n9:gone/main", "--wrap", "sleep 300"))
	other := strings.TrimSpace(s.Run(t, "sbatch", "--parsable", "--output=/dev/null", "--comment=mk:n8:gone/main", "--wrap", "sleep 300"))
	removed, err := d2.Reconcile(context.Background(), "n9", []string{"pod-later"})
	if err != nil || len(removed) != 1 || removed[0] != orphan {
		t.Errorf("reconcile removed %v (%v), want [%s]", removed, err, orphan)
	}
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		st := s.JobState(t, orphan)
		return st == "CANCELLED", errors.New("orphan is " + st)
	})
	if st := s.JobState(t, other); st != "RUNNING" && st != "PENDING" {
		t.Errorf("another node's job is %s", st)
	}
	s.Run(t, "scancel", other)
	if _, err := d2.ExecTask(context.Background(), later.ID, []string{"true"}, time.Second); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("exec: %v, want not supported", err)
	}
}

// jobID is the task's Slurm job ID.
func jobID(t *testing.T, d *slurm.Driver, id string) string {
	st, err := d.InspectTask(id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.ContainsAny(st.Details["slurm_job_id"], "0123456789") {
		t.Fatalf("no job ID in %v", st.Details)
	}
	return st.Details["slurm_job_id"]
}
