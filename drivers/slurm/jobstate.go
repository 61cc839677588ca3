package slurm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/mk-orchestrator/mk/drivers"
)

// jobInfo is what Slurm says of one job (of all the tasks of an array).
type jobInfo struct {
	ID        string
	State     string
	Reason    string
	Partition string
	// GRES is what the job asked per node ("gres:gpu:1").
	GRES string
	// ExitCode and Signal are the batch script's (from squeue's wait
	// status or sacct's "code:signal").
	ExitCode int
	Signal   int
}

// Task states of Slurm's job states.
var (
	pendingStates = map[string]bool{
		"PENDING": true, "CONFIGURING": true, "REQUEUED": true, "REQUEUE_HOLD": true,
		"REQUEUE_FED": true, "RESV_DEL_HOLD": true,
	}
	runningStates = map[string]bool{
		"RUNNING": true, "COMPLETING": true, "SUSPENDED": true, "STOPPED": true,
		"SIGNALING": true, "STAGE_OUT": true, "RESIZING": true,
	}
)

// taskState maps the job's Slurm state to a driver task state: pending,
// running, or exited for every final state (COMPLETED, FAILED, TIMEOUT,
// OUT_OF_MEMORY, CANCELLED, NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE,
// ...). A state this driver does not know counts as running until Slurm
// says more.
func (j *jobInfo) taskState() string {
	switch {
	case pendingStates[j.State]:
		return drivers.TaskStatePending
	case runningStates[j.State]:
		return drivers.TaskStateRunning
	case finalState(j.State):
		return drivers.TaskStateExited
	}
	return drivers.TaskStateRunning
}

// finalState reports whether a Slurm job state is final.
func finalState(s string) bool {
	switch s {
	case "COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL",
		"PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED":
		return true
	}
	return false
}

// exitResult is how a finished job ended. COMPLETED is exit 0; FAILED
// with the script's non-zero exit is that exit; every other end (TIMEOUT,
// OUT_OF_MEMORY, CANCELLED, NODE_FAIL, a FAILED launch, ...) is a failure
// whose error names the job, its state and Slurm's reason, with the exit
// code and signal Slurm recorded.
func (j *jobInfo) exitResult() *drivers.ExitResult {
	r := &drivers.ExitResult{ExitCode: j.ExitCode, Signal: j.Signal, OOMKilled: j.State == "OUT_OF_MEMORY"}
	switch {
	case j.State == "COMPLETED" && j.ExitCode == 0 && j.Signal == 0:
		return r
	case j.State == "FAILED" && j.ExitCode != 0 && j.Signal == 0 && j.Reason == "NonZeroExitCode":
		return r
	}
	r.Err = errors.New(j.describe())
	return r
}

// describe is "slurm job 12 TIMEOUT (TimeLimit)".
func (j *jobInfo) describe() string {
	s := fmt.Sprintf("slurm job %s %s", j.ID, j.State)
	if j.Reason != "" && j.Reason != "None" {
		s += " (" + j.Reason + ")"
	}
	return s
}

// gpus is the number of GPUs the job asked per node, from its GRES.
func (j *jobInfo) gpus() int {
	n := 0
	for _, g := range strings.Split(j.GRES, ",") {
		g = strings.TrimPrefix(strings.TrimSpace(g), "gres:")
		if g == "gpu" {
			n++
			continue
		}
		if strings.HasPrefix(g, "gpu:") {
			n += gresCount(g)
		}
	}
	return n
}

// squeueFormat is the -O format parseSqueue reads: one job (or array
// task) per line, fields separated by '|'.
const squeueFormat = "ArrayJobID:|,JobID:|,State:|,Reason:|,exit_code:|,Partition:|,tres-per-node:|"

// parseSqueue reads squeue's lines into jobs by their (array) job ID.
// The tasks of an array are one job: pending while any waits and none
// runs, running while any runs, else ended as its worst task ended.
func parseSqueue(out []byte) map[string]*jobInfo {
	jobs := map[string]*jobInfo{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "|")
		if len(f) < 7 || f[0] == "" {
			continue
		}
		id := strings.TrimSpace(f[0])
		j := &jobInfo{ID: id, State: strings.TrimSpace(f[2]), Reason: strings.TrimSpace(f[3]),
			Partition: strings.TrimSpace(f[5]), GRES: strings.TrimSpace(f[6])}
		if j.GRES == "N/A" {
			j.GRES = ""
		}
		if status, err := strconv.Atoi(strings.TrimSpace(f[4])); err == nil {
			ws := syscall.WaitStatus(status)
			if ws.Signaled() {
				j.Signal = int(ws.Signal())
			} else {
				j.ExitCode = ws.ExitStatus()
			}
		}
		jobs[id] = mergeArrayTask(jobs[id], j)
	}
	return jobs
}

// mergeArrayTask folds task b of an array into what is known of it (a),
// keeping the state that says most: running over pending over ended,
// and of ended tasks the first failure.
func mergeArrayTask(a, b *jobInfo) *jobInfo {
	if a == nil {
		return b
	}
	rank := func(j *jobInfo) int {
		switch j.taskState() {
		case drivers.TaskStateRunning:
			return 3
		case drivers.TaskStatePending:
			return 2
		}
		if j.exitResult().Successful() {
			return 0
		}
		return 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// sacctFormat is the -o format parseSacct reads (with -P -n -X).
const sacctFormat = "JobIDRaw,State,ExitCode,Reason,Partition"

// parseSacct reads `sacct -P -n -X -o JobIDRaw,State,ExitCode,Reason,Partition`.
// States such as "CANCELLED by 0" keep their first word; ExitCode is
// "code:signal".
func parseSacct(out []byte) map[string]*jobInfo {
	jobs := map[string]*jobInfo{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "|")
		if len(f) < 5 || f[0] == "" {
			continue
		}
		id, _, _ := strings.Cut(f[0], "_")
		state, _, _ := strings.Cut(f[1], " ")
		j := &jobInfo{ID: id, State: state, Reason: f[3], Partition: f[4]}
		code, sig, _ := strings.Cut(f[2], ":")
		j.ExitCode, _ = strconv.Atoi(code)
		j.Signal, _ = strconv.Atoi(sig)
		jobs[id] = mergeArrayTask(jobs[id], j)
	}
	return jobs
}
