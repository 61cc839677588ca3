package client

import (
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/drivers/slurm"
	"github.com/mk-orchestrator/mk/structs"
)

func TestParseNvidiaSMI(t *testing.T) {
	got := parseNvidiaSMI("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n\n")
	want := gpuList{{0, "NVIDIA H100 80GB HBM3", 81559}, {1, "NVIDIA H100 80GB HBM3", 81559}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	attrs := got.attributes()
	if attrs["gpu.count"] != "2" || attrs["gpu.model"] != "NVIDIA H100 80GB HBM3" || attrs["gpu.memory_mb"] != "81559" {
		t.Errorf("attributes %v", attrs)
	}
}

// TestNodeGPUs: the node offers its own GPUs or, where more, those of a
// healthy gpu-slurm driver's partition.
func TestNodeGPUs(t *testing.T) {
	slurmWith := func(healthy bool, gpus string) map[string]*structs.DriverInfo {
		return map[string]*structs.DriverInfo{slurm.Name: {Detected: true, Healthy: healthy, Attributes: map[string]string{slurm.AttrGPUs: gpus}}}
	}
	cases := []struct {
		name  string
		local int
		infos map[string]*structs.DriverInfo
		want  int
	}{
		{"none", 0, nil, 0},
		{"local", 2, nil, 2},
		{"slurm", 0, slurmWith(true, "4"), 4},
		{"unhealthy slurm", 1, slurmWith(false, "4"), 1},
		{"more local", 8, slurmWith(true, "4"), 8},
	}
	for _, tc := range cases {
		if got := nodeGPUs(tc.local, tc.infos); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestTaskGPUs: a pod's tasks take its GPU indexes in order, each as
// many as it asks.
func TestTaskGPUs(t *testing.T) {
	p := &structs.Pod{GPUs: []int{3, 5, 6}, Template: &structs.TaskGroup{Tasks: []*structs.Task{
		{Name: "a", Driver: "exec", Resources: &structs.Resources{GPUs: 1}},
		{Name: "b", Driver: "exec"},
		{Name: "c", Driver: structs.DriverGPUSlurm, Config: &structs.TaskConfig{GPUs: 2}},
	}}}
	for task, want := range map[string][]string{"a": {"3"}, "b": nil, "c": {"5", "6"}} {
		if got := taskGPUs(p, task); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", task, got, want)
		}
	}
}

// TestBridgeModeRemoteOnly: a pod whose tasks all run on the Slurm
// cluster gets no network namespace, unless its group declares one.
func TestBridgeModeRemoteOnly(t *testing.T) {
	slurmTask := &structs.Task{Name: "s", Driver: structs.DriverGPUSlurm}
	execTask := &structs.Task{Name: "e", Driver: "exec"}
	cases := []struct {
		name string
		g    *structs.TaskGroup
		want bool
	}{
		{"slurm only", &structs.TaskGroup{Tasks: []*structs.Task{slurmTask}}, false},
		{"slurm and exec", &structs.TaskGroup{Tasks: []*structs.Task{slurmTask, execTask}}, true},
		{"exec", &structs.TaskGroup{Tasks: []*structs.Task{execTask}}, true},
		{"slurm with a network", &structs.TaskGroup{Tasks: []*structs.Task{slurmTask}, Network: &structs.NetworkSpec{}}, true},
	}
	for _, tc := range cases {
		if got := bridgeMode(&structs.Pod{Template: tc.g}); got != tc.want {
			t.Errorf("%s: bridge %v, want %v", tc.name, got, tc.want)
		}
	}
}
