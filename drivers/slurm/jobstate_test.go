package slurm

import (
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/drivers"
)

// TestParseSqueue reads squeue's lines as Slurm 22.05 prints them: the
// exit code is the script's wait status (768: exit 3; 15: SIGTERM);
// the tasks of an array are one job.
func TestParseSqueue(t *testing.T) {
	out := []byte(`1|1|FAILED|NonZeroExitCode|768|gpu|gres:gpu:1|
2|2|PENDING|Resources|0|gpu|gres:gpu:2|
4|4|TIMEOUT|TimeLimit|15|gpu|N/A|
6|6_0|COMPLETED|None|0|gpu|N/A|
6|6_1|RUNNING|None|0|gpu|N/A|
6|6_[2-3]|PENDING|JobArrayTaskLimit|0|gpu|N/A|
garbage
`)
	got := parseSqueue(out)
	want := map[string]*jobInfo{
		"1": {ID: "1", State: "FAILED", Reason: "NonZeroExitCode", Partition: "gpu", GRES: "gres:gpu:1", ExitCode: 3},
		"2": {ID: "2", State: "PENDING", Reason: "Resources", Partition: "gpu", GRES: "gres:gpu:2"},
		"4": {ID: "4", State: "TIMEOUT", Reason: "TimeLimit", Partition: "gpu", Signal: 15},
		"6": {ID: "6", State: "RUNNING", Reason: "None", Partition: "gpu"},
	}
	if !reflect.DeepEqual(got, want) {
		for id, j := range got {
			t.Logf("%s: %+v", id, *j)
		}
		t.Fatal("parseSqueue differs")
	}
	if n := got["2"].gpus(); n != 2 {
		t.Errorf("gpus of gres:gpu:2 = %d", n)
	}
}

// TestParseSacct reads sacct -P: "CANCELLED by 0" is CANCELLED, exit
// codes are code:signal.
func TestParseSacct(t *testing.T) {
	got := parseSacct([]byte("7|CANCELLED by 0|0:15|None|gpu\n8|COMPLETED|0:0|None|gpu\n9|OUT_OF_MEMORY|0:125|OutOfMemory|gpu\n"))
	if j := got["7"]; j.State != "CANCELLED" || j.Signal != 15 {
		t.Errorf("7: %+v", *j)
	}
	if !got["8"].exitResult().Successful() {
		t.Errorf("8: COMPLETED 0:0 is not a success")
	}
	if r := got["9"].exitResult(); !r.OOMKilled || r.Err == nil {
		t.Errorf("9: %+v, want OOM killed with an error", r)
	}
}

// TestJobStateMapping maps Slurm's states to task states and exits.
func TestJobStateMapping(t *testing.T) {
	cases := []struct {
		job     jobInfo
		state   string
		success bool
		code    int
		err     string
	}{
		{jobInfo{ID: "1", State: "PENDING", Reason: "Resources"}, drivers.TaskStatePending, false, 0, ""},
		{jobInfo{ID: "1", State: "CONFIGURING"}, drivers.TaskStatePending, false, 0, ""},
		{jobInfo{ID: "1", State: "RUNNING"}, drivers.TaskStateRunning, false, 0, ""},
		{jobInfo{ID: "1", State: "COMPLETING"}, drivers.TaskStateRunning, false, 0, ""},
		{jobInfo{ID: "1", State: "COMPLETED", Reason: "None"}, drivers.TaskStateExited, true, 0, ""},
		{jobInfo{ID: "1", State: "FAILED", Reason: "NonZeroExitCode", ExitCode: 7}, drivers.TaskStateExited, false, 7, ""},
		{jobInfo{ID: "1", State: "FAILED", Reason: "BadConstraints", ExitCode: 1}, drivers.TaskStateExited, false, 1, "slurm job 1 FAILED (BadConstraints)"},
		{jobInfo{ID: "2", State: "TIMEOUT", Reason: "TimeLimit", Signal: 15}, drivers.TaskStateExited, false, 0, "slurm job 2 TIMEOUT (TimeLimit)"},
		{jobInfo{ID: "3", State: "CANCELLED", Reason: "None", Signal: 15}, drivers.TaskStateExited, false, 0, "slurm job 3 CANCELLED"},
		{jobInfo{ID: "4", State: "NODE_FAIL", Reason: "NodeDown"}, drivers.TaskStateExited, false, 0, "slurm job 4 NODE_FAIL (NodeDown)"},
		{jobInfo{ID: "5", State: "OUT_OF_MEMORY", Reason: "OutOfMemory"}, drivers.TaskStateExited, false, 0, "slurm job 5 OUT_OF_MEMORY (OutOfMemory)"},
	}
	for _, tc := range cases {
		t.Run(tc.job.State+"/"+tc.job.Reason, func(t *testing.T) {
			if got := tc.job.taskState(); got != tc.state {
				t.Fatalf("task state %q, want %q", got, tc.state)
			}
			if tc.state != drivers.TaskStateExited {
				return
			}
			r := tc.job.exitResult()
			errText := ""
			if r.Err != nil {
				errText = r.Err.Error()
			}
			if r.Successful() != tc.success || r.ExitCode != tc.code || errText != tc.err {
				t.Errorf("exit %+v (err %q), want success=%v code %d err %q", r, errText, tc.success, tc.code, tc.err)
			}
		})
	}
}

// TestOrphanJobs: the jobs of this node whose pods are not live, once
// per job; other nodes' jobs and jobs not mk's are left.
func TestOrphanJobs(t *testing.T) {
	out := []byte("10|mk:n1:podA/main\n11|mk:n1:podB/main\n12|mk:n2:podC/main\n13|(null)\n14_1|mk:n1:podD/t\n14_2|mk:n1:podD/t\n")
	got := orphanJobs(out, "n1", map[string]bool{"podA": true})
	if want := []string{"11", "14"}; !reflect.DeepEqual(got, want) {
		t.Errorf("orphans %v, want %v", got, want)
	}
}
