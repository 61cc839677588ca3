package command

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/drivers/slurm"
	"github.com/mk-orchestrator/mk/structs"
)

// detailLabels are the headings of the task details drivers report;
// other keys show as they are, after these.
var detailLabels = []struct{ key, label string }{
	{"slurm_job_id", "Slurm Job ID"},
	{"slurm_state", "Slurm State"},
	{"reason", "Reason"},
	{"partition", "Partition"},
	{"gpus", "GPUs"},
}

// formatTaskDetails renders what a task's driver reports of it (the
// gpu-slurm driver: the Slurm job ID, state, reason, partition, GPUs).
func formatTaskDetails(details map[string]string) string {
	var rows []string
	known := map[string]bool{}
	for _, l := range detailLabels {
		known[l.key] = true
		if v, ok := details[l.key]; ok {
			rows = append(rows, row(l.label, v))
		}
	}
	var rest []string
	for k, v := range details {
		if !known[k] {
			rest = append(rest, row(k, v))
		}
	}
	sort.Strings(rest)
	return "Driver\n" + formatKV(append(rows, rest...))
}

// podResources is a pod's "Resources" line: cpu, memory and, when it has
// any, its GPUs with the indexes the scheduler gave it.
func podResources(p *structs.Pod, res *structs.Resources) string {
	s := fmt.Sprintf("cpu %d MHz, memory %d MiB", res.CPU, res.MemoryMB)
	if res.GPUs > 0 {
		s += fmt.Sprintf(", gpus %d", res.GPUs)
		if len(p.GPUs) > 0 {
			idx := make([]string, len(p.GPUs))
			for i, g := range p.GPUs {
				idx[i] = fmt.Sprint(g)
			}
			s += " (" + strings.Join(idx, ",") + ")"
		}
	}
	return s
}

// formatNodeGPUs is `node status -verbose`'s GPU section: the node's GPU
// count, its own GPUs' model and memory (nvidia-smi) and, with a
// gpu-slurm driver, the Slurm partitions with their GPUs.
func formatNodeGPUs(n *structs.Node) string {
	gpus := 0
	if n.Resources != nil {
		gpus = n.Resources.GPUs
	}
	rows := []string{row("Count", gpus)}
	if m := n.Attributes["gpu.model"]; m != "" {
		rows = append(rows, row("Local", fmt.Sprintf("%s x %s (%s MiB)", n.Attributes["gpu.count"], m, n.Attributes["gpu.memory_mb"])))
	}
	var parts []string
	if d := n.Drivers[slurm.Name]; d != nil && d.Healthy {
		rows = append(rows, row("Slurm", fmt.Sprintf("version %s, partition %s", d.Attributes[slurm.AttrVersion], d.Attributes[slurm.AttrPartition])))
		for _, name := range strings.Split(d.Attributes[slurm.AttrPartitions], ",") {
			if name != "" {
				parts = append(parts, row(name, d.Attributes["driver."+slurm.Name+".partition."+name+".gpus"]))
			}
		}
	}
	out := "\n\nGPUs\n" + formatKV(rows)
	if len(parts) > 0 {
		out += "\n\nSlurm Partitions (GPUs)\n" + formatKV(parts)
	}
	return out
}
