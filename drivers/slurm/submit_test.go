package slurm

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

func TestSlurmTime(t *testing.T) {
	cases := map[time.Duration]string{
		10 * time.Minute:               "0-00:10:00",
		30 * time.Second:               "0-00:01:00",
		90*time.Minute + time.Second:   "0-01:31:00",
		50 * time.Hour:                 "2-02:00:00",
		24*time.Hour - time.Nanosecond: "1-00:00:00",
		0:                              "0-00:01:00",
	}
	for d, want := range cases {
		if got := slurmTime(d); got != want {
			t.Errorf("slurmTime(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestSbatchArgs: every option of the task's config becomes its sbatch
// flag; the job runs in the task's directory and appends to its logs.
func TestSbatchArgs(t *testing.T) {
	cfg := &drivers.TaskConfig{
		ID: "pod1/main", Name: "main", JobID: "train", NodeID: "n1", TaskDir: "/d/main",
		StdoutPath: "/d/main/stdout.log", StderrPath: "/d/main/stderr.log",
		Task: &structs.Task{Name: "main", Driver: structs.DriverGPUSlurm, User: "alice", Config: &structs.TaskConfig{
			Script: "#!/bin/sh\n", GPUs: 2, Time: "10m", Nodes: 1, NTasks: 4, CPUsPerTask: 2,
			Mem: "4G", Account: "lab", QOS: "high", Array: "0-3",
		}},
	}
	got, err := sbatchArgs(cfg, "gpu", "/d/main/"+scriptName)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--parsable", "--job-name=mk.train.main", "--comment=mk:n1:pod1/main", "--chdir=/d/main",
		"--output=/d/main/stdout.log", "--error=/d/main/stderr.log", "--open-mode=append", "--export=ALL",
		"--gres=gpu:2", "--partition=gpu", "--time=0-00:10:00", "--nodes=1", "--ntasks=4", "--cpus-per-task=2",
		"--mem=4G", "--account=lab", "--qos=high", "--array=0-3", "--uid=alice", "/d/main/" + scriptName,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args\n got %q\nwant %q", got, want)
	}
	cfg.Task.Config.Partition = "debug"
	cfg.Task.Config.GPUs, cfg.Task.Resources = 0, &structs.Resources{GPUs: 1}
	got, _ = sbatchArgs(cfg, "gpu", "s")
	if !contains(got, "--partition=debug") || !contains(got, "--gres=gpu:1") {
		t.Errorf("the task's partition and resources.gpus: %q", got)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestStage writes the task's files (paths inside the task directory)
// and its script.
func TestStage(t *testing.T) {
	dir := t.TempDir()
	cfg := &drivers.TaskConfig{TaskDir: dir, StdoutPath: filepath.Join(dir, "stdout.log"), StderrPath: filepath.Join(dir, "stderr.log"), Task: &structs.Task{Config: &structs.TaskConfig{
		Script: "#!/bin/sh\necho hi\n", Files: map[string]string{"a.cu": "kernel", "sub/b.txt": "b"},
	}}}
	script, err := stage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{script: cfg.Task.Config.Script, "a.cu": "kernel", "sub/b.txt": "b", "stdout.log": "", "stderr.log": ""} {
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", path, got, err, want)
		}
	}
	cfg.Task.Config.Files = map[string]string{"../escape": "x"}
	if _, err := stage(cfg); err == nil {
		t.Error("a file outside the task directory was staged")
	}
}
