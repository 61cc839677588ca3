package client

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/drivers/slurm"
	"github.com/mk-orchestrator/mk/structs"
)

// nvidiaSMITimeout bounds nvidia-smi's answer.
const nvidiaSMITimeout = 10 * time.Second

// gpu is one of the node's own GPUs, as nvidia-smi reports it.
type gpu struct {
	Index    int
	Model    string
	MemoryMB int
}

// gpuList is the node's GPUs.
type gpuList []gpu

// nvidiaGPUs asks nvidia-smi for the node's GPUs (none without it): the
// exec and docker drivers run tasks on them.
func nvidiaGPUs(ctx context.Context) gpuList {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, nvidiaSMITimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil
	}
	return parseNvidiaSMI(string(out))
}

// parseNvidiaSMI reads `nvidia-smi --query-gpu=index,name,memory.total
// --format=csv,noheader,nounits`: "0, NVIDIA H100 80GB HBM3, 81559".
func parseNvidiaSMI(out string) gpuList {
	var gpus gpuList
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		idx, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if err != nil {
			continue
		}
		mem, _ := strconv.Atoi(strings.TrimSpace(f[2]))
		gpus = append(gpus, gpu{Index: idx, Model: strings.TrimSpace(f[1]), MemoryMB: mem})
	}
	return gpus
}

// attributes are the node attributes of its GPUs: gpu.count, and
// gpu.model and gpu.memory_mb of the first (constraints match them).
func (l gpuList) attributes() map[string]string {
	if len(l) == 0 {
		return nil
	}
	return map[string]string{
		"gpu.count":     strconv.Itoa(len(l)),
		"gpu.model":     l[0].Model,
		"gpu.memory_mb": strconv.Itoa(l[0].MemoryMB),
	}
}

// nodeGPUs is the GPU count the scheduler places against: the node's
// own (nvidia-smi) or, where more, those of the Slurm partition a healthy
// gpu-slurm driver submits to.
func nodeGPUs(local int, infos map[string]*structs.DriverInfo) int {
	n := local
	if d := infos[slurm.Name]; d != nil && d.Detected && d.Healthy {
		if s, err := strconv.Atoi(d.Attributes[slurm.AttrGPUs]); err == nil && s > n {
			n = s
		}
	}
	return n
}
