package command

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestAllocated(t *testing.T) {
	capacity := &structs.NodeResources{CPU: 4000, MemoryMB: 8192, GPUs: 2}
	pod := func(desired, phase string, cpu, mem, gpus int) *structs.Pod {
		return &structs.Pod{NodeID: "n1", DesiredStatus: desired, Phase: phase,
			Resources: &structs.Resources{CPU: cpu, MemoryMB: mem, GPUs: gpus}}
	}
	pods := []*structs.Pod{
		pod(structs.PodDesiredRun, structs.PodPhaseRunning, 500, 256, 1),
		pod(structs.PodDesiredRun, structs.PodPhasePending, 100, 64, 0),
		// Ended or stopping pods hold nothing.
		pod(structs.PodDesiredRun, structs.PodPhaseFailed, 1000, 1000, 1),
		pod(structs.PodDesiredStop, structs.PodPhaseRunning, 1000, 1000, 0),
	}
	want := "cpu 600/4000 MHz, memory 320/8192 MiB, gpus 1/2"
	if got := allocated(capacity, pods); got != want {
		t.Fatalf("allocated %q, want %q", got, want)
	}
}
