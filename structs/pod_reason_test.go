package structs

import "testing"

func TestPodReason(t *testing.T) {
	exit1 := &TaskEvent{Type: TaskEventTerminated, Message: "exit code 1", ExitCode: 1}
	cases := []struct {
		name string
		pod  *Pod
		want string
	}{
		{"running", &Pod{TaskStates: map[string]*TaskState{"t": {State: TaskStateRunning}}}, ""},
		{"restarting", &Pod{TaskStates: map[string]*TaskState{"t": {State: TaskStateRestarting, Events: []*TaskEvent{
			exit1, {Type: TaskEventRestarting, Message: "restarting in 15s"}}}}}, "exit code 1, restarting in 15s"},
		{"driver failure", &Pod{TaskStates: map[string]*TaskState{"t": {State: TaskStateDead, Failed: true, Events: []*TaskEvent{
			{Type: TaskEventDriverErr, Message: "stat /no/such/binary: no such file or directory"}}}}},
			"driver failure: stat /no/such/binary: no such file or directory"},
		{"exhausted", &Pod{TaskStates: map[string]*TaskState{"t": {State: TaskStateDead, Failed: true, Events: []*TaskEvent{
			exit1, {Type: TaskEventNotRestart, Message: "restart attempts exhausted"}}}}},
			"exit code 1, restart attempts exhausted"},
		{"a check fails", &Pod{Phase: PodPhaseRunning, TaskStates: map[string]*TaskState{"t": {State: TaskStateRunning}},
			Checks: []*CheckStatus{{Name: "web-tcp", Status: CheckPassing}, {Name: "web-http", Status: CheckCritical, Output: "HTTP 503 Service Unavailable"}}},
			`check "web-http" critical: HTTP 503 Service Unavailable`},
		{"checks pending", &Pod{Phase: PodPhaseRunning, Checks: []*CheckStatus{{Name: "web-http", Status: CheckPending}}}, ""},
		{"pending", &Pod{PendingReason: "no node has 2 free GPUs"}, "no node has 2 free GPUs"},
		{"waiting in slurm", &Pod{TaskStates: map[string]*TaskState{"main": {State: TaskStatePending,
			Details: map[string]string{"slurm_job_id": "12", "reason": "Resources"}}}}, "waiting: Resources"},
		{"stopped", &Pod{DesiredStatus: PodDesiredStop, DesiredReason: "job stopped",
			TaskStates: map[string]*TaskState{"t": {State: TaskStateDead, Events: []*TaskEvent{{Type: TaskEventKilled}}}}}, "job stopped"},
		{"failed, then replaced", &Pod{DesiredStatus: PodDesiredStop, DesiredReason: "replaced",
			TaskStates: map[string]*TaskState{"t": {State: TaskStateDead, Failed: true, Events: []*TaskEvent{
				exit1, {Type: TaskEventNotRestart, Message: "restart attempts exhausted"}}}}},
			"exit code 1, restart attempts exhausted"},
		{"two tasks name the task", &Pod{TaskStates: map[string]*TaskState{"a": {State: TaskStateRunning},
			"b": {State: TaskStateRestarting, Events: []*TaskEvent{exit1, {Type: TaskEventRestarting, Message: "restarting in 2s"}}}}},
			`task "b": exit code 1, restarting in 2s`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pod.Reason(); got != tc.want {
				t.Fatalf("Reason() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExitedOnce(t *testing.T) {
	if (&TaskState{Failed: true, Events: []*TaskEvent{{Type: TaskEventDriverErr}}}).ExitedOnce() {
		t.Fatal("a task that never started has no exit")
	}
	if !(&TaskState{Events: []*TaskEvent{{Type: TaskEventTerminated}}}).ExitedOnce() {
		t.Fatal("a terminated task exited")
	}
}
