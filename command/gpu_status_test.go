package command

import (
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/drivers/slurm"
	"github.com/mk-orchestrator/mk/structs"
)

// TestFormatTaskDetails: a gpu-slurm task's details show under their
// headings, known ones first, others after, sorted.
func TestFormatTaskDetails(t *testing.T) {
	got := formatTaskDetails(map[string]string{"gpus": "1", "slurm_job_id": "12", "slurm_state": "PENDING",
		"reason": "Resources", "partition": "gpu", "zz": "other"})
	want := "Driver\nSlurm Job ID = 12\nSlurm State  = PENDING\nReason       = Resources\nPartition    = gpu\nGPUs         = 1\nzz           = other"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestFormatNodeGPUs: `node status -verbose` shows the node's GPUs and
// its Slurm partitions with theirs.
func TestFormatNodeGPUs(t *testing.T) {
	n := &structs.Node{
		Resources:  &structs.NodeResources{GPUs: 4},
		Attributes: map[string]string{"gpu.count": "1", "gpu.model": "NVIDIA A100", "gpu.memory_mb": "40960"},
		Drivers: map[string]*structs.DriverInfo{slurm.Name: {Detected: true, Healthy: true, Attributes: map[string]string{
			slurm.AttrVersion: "22.05.8", slurm.AttrPartition: "gpu", slurm.AttrPartitions: "cpu,gpu",
			"driver.gpu-slurm.partition.gpu.gpus": "4", "driver.gpu-slurm.partition.cpu.gpus": "0",
		}}},
	}
	got := formatNodeGPUs(n)
	for _, want := range []string{"Count = 4", "Local = 1 x NVIDIA A100 (40960 MiB)", "Slurm = version 22.05.8, partition gpu",
		"Slurm Partitions (GPUs)\ncpu = 0\ngpu = 4"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if got := podResources(&structs.Pod{GPUs: []int{0, 2}}, &structs.Resources{CPU: 10, MemoryMB: 20, GPUs: 2}); got != "cpu 10 MHz, memory 20 MiB, gpus 2 (0,2)" {
		t.Errorf("pod resources %q", got)
	}
}
