package command

import (
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{3<<20 + 1<<19, "3.5 MiB"},
		{5 << 30, "5.0 GiB"},
		{2 << 40, "2.0 TiB"},
		{2 << 50, "2048.0 TiB"},
	}
	for _, tc := range tests {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFormatTaskResources(t *testing.T) {
	limits := &structs.Resources{CPU: 500, MemoryMB: 256}
	tests := []struct {
		name string
		ts   *structs.TaskStats
		want string
	}{
		{"running", &structs.TaskStats{State: structs.TaskStateRunning, Limits: limits,
			Usage: &structs.ResourceUsage{CPUMHz: 12.4, MemoryUsage: 3 << 20, MemoryRSS: 1 << 20}},
			"Resources\nCPU    = 12/500 MHz\nMemory = 3.0 MiB/256 MiB (RSS 1.0 MiB)"},
		{"not running", &structs.TaskStats{State: structs.TaskStateDead, Limits: limits},
			"Resources\nCPU    = -/500 MHz\nMemory = -/256 MiB\nNote   = the task is dead"},
		{"no limits", &structs.TaskStats{State: structs.TaskStatePending},
			"Resources\nCPU    = -/0 MHz\nMemory = -/0 MiB\nNote   = the task is pending"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatTaskResources(tc.ts); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestTaskLine(t *testing.T) {
	cases := []struct {
		name string
		ts   *structs.TaskState
		want string
	}{
		{"running", &structs.TaskState{State: structs.TaskStateRunning, Restarts: 1,
			Events: []*structs.TaskEvent{{Type: structs.TaskEventTerminated}, {Type: structs.TaskEventStarted}}},
			`Task "t" is "running" (restarts 1)`},
		{"driver failure has no exit code", &structs.TaskState{State: structs.TaskStateDead, Failed: true,
			Events: []*structs.TaskEvent{{Type: structs.TaskEventDriverErr, Message: "stat /x: no such file"}}},
			`Task "t" is "dead" (restarts 0, driver failure)`},
		{"restarting", &structs.TaskState{State: structs.TaskStateRestarting, ExitCode: 1, NextRestart: 1e18,
			Events: []*structs.TaskEvent{{Type: structs.TaskEventTerminated}, {Type: structs.TaskEventRestarting}}},
			`Task "t" is "restarting" (restarts 0, next attempt 2001-09-09T01:46:40Z, exit code 1)`},
	}
	for _, tc := range cases {
		if got := taskLine("t", tc.ts); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestFormatPodMemoryUnit: pod status gives memory in binary units only
// (MemoryMB counts MiB), never MB next to MiB.
func TestFormatPodMemoryUnit(t *testing.T) {
	pod := &structs.Pod{Resources: &structs.Resources{CPU: 100, MemoryMB: 64},
		TaskStates: map[string]*structs.TaskState{"web": {State: structs.TaskStateRunning}}}
	stats := &structs.PodStats{Tasks: map[string]*structs.TaskStats{"web": {State: structs.TaskStateRunning,
		Limits: pod.Resources, Usage: &structs.ResourceUsage{MemoryUsage: 3 << 20, MemoryRSS: 1 << 20}}}}
	got := formatPod(pod, stats, nil)
	if !strings.Contains(got, "Resources = cpu 100 MHz, memory 64 MiB\n") || !strings.Contains(got, "Memory = 3.0 MiB/64 MiB (RSS 1.0 MiB)") {
		t.Fatalf("got\n%s", got)
	}
	if strings.Contains(got, " MB") {
		t.Fatalf("MB next to MiB:\n%s", got)
	}
}
