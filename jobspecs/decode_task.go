package jobspecs

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/mk-orchestrator/mk/structs"
)

var taskBlocks = blocks("meta", "config", "env", "resources", "volume_mount")

func (d *decoder) decodeTask(b *hcl.Block, groupPath string) *structs.Task {
	t := &structs.Task{Name: b.Labels[0]}
	c := d.content(b.Body, []field{
		{"driver", &t.Driver},
		{"user", &t.User},
		{"kill_timeout", duration{&t.KillTimeout}},
		{"kill_signal", &t.KillSignal},
	}, taskBlocks...)
	path := fmt.Sprintf("%s task %q", groupPath, t.Name)
	d.record(path, "", b, c.Attributes)
	d.pos[path+" name"] = b.LabelRanges[0]
	if mb := d.single(c, "meta", "task"); mb != nil {
		t.Meta = d.attrMap(mb)
		d.recordMap(path, "meta", mb)
	}
	if cb := d.single(c, "config", "task"); cb != nil {
		t.Config = d.decodeConfig(cb, path)
	}
	if eb := d.single(c, "env", "task"); eb != nil {
		t.Env = d.attrMap(eb)
		d.recordMap(path, "env", eb)
	}
	if rb := d.single(c, "resources", "task"); rb != nil {
		t.Resources = d.decodeResources(rb, path)
	}
	for i, vb := range c.Blocks.OfType("volume_mount") {
		t.VolumeMounts = append(t.VolumeMounts, d.decodeVolumeMount(vb, path, i))
	}
	return t
}

// decodeConfig decodes the one config schema every driver shares; validation
// checks that the keys set belong to the task's driver.
func (d *decoder) decodeConfig(b *hcl.Block, path string) *structs.TaskConfig {
	cfg := &structs.TaskConfig{}
	var workingDir string
	c := d.content(b.Body, []field{
		{"image", &cfg.Image},
		{"entrypoint", &cfg.Entrypoint},
		{"pull", &cfg.Pull},
		{"command", &cfg.Command},
		{"args", &cfg.Args},
		{"work_dir", &cfg.WorkDir},
		{"script", &cfg.Script},
		{"files", &cfg.Files},
		{"gpus", &cfg.GPUs},
		{"partition", &cfg.Partition},
		{"time", duration{&cfg.Time}},
		{"nodes", &cfg.Nodes},
		{"ntasks", &cfg.NTasks},
		{"cpus_per_task", &cfg.CPUsPerTask},
		{"mem", &cfg.Mem},
		{"account", &cfg.Account},
		{"qos", &cfg.QOS},
		{"array", &cfg.Array},
		{"env", &cfg.Env},
		{"labels", &cfg.Labels},
		{"privileged", &cfg.Privileged},
		{"cap_add", &cfg.CapAdd},
		{"cap_drop", &cfg.CapDrop},
		{"volumes", &cfg.Volumes},
		{"ports", &cfg.Ports},
		{"working_dir", &workingDir},
	})
	// working_dir is docker's spelling of work_dir: one field, set once.
	if a, ok := c.Attributes["working_dir"]; ok {
		if _, both := c.Attributes["work_dir"]; both {
			d.errAt(a.Range, "working_dir: work_dir is set too; they are the same field, set one")
		} else {
			cfg.WorkDir = workingDir
		}
	}
	d.record(path, "config", b, c.Attributes)
	if a, ok := c.Attributes["working_dir"]; ok {
		d.pos[path+" config.work_dir"] = a.Expr.Range()
	}
	return cfg
}

// decodeResources starts from the defaults, so a block that sets only cpu
// keeps the default memory.
func (d *decoder) decodeResources(b *hcl.Block, path string) *structs.Resources {
	r := structs.DefaultResources()
	var gpu int
	c := d.content(b.Body, []field{
		{"cpu", &r.CPU},
		{"memory", &r.MemoryMB},
		{"gpus", &r.GPUs},
		{"gpu", &gpu},
	})
	// gpu is another spelling of gpus: one field, set once.
	if a, ok := c.Attributes["gpu"]; ok {
		if _, both := c.Attributes["gpus"]; both {
			d.errAt(a.Range, "gpu: gpus is set too; they are the same field, set one")
		} else {
			r.GPUs = gpu
		}
	}
	d.record(path, "resources", b, c.Attributes)
	if a, ok := c.Attributes["gpu"]; ok {
		d.pos[path+" resources.gpus"] = a.Expr.Range()
	}
	return r
}

func (d *decoder) decodeVolumeMount(b *hcl.Block, path string, i int) *structs.VolumeMount {
	m := &structs.VolumeMount{}
	c := d.content(b.Body, []field{
		{"volume", &m.Volume},
		{"destination", &m.Destination},
		{"read_only", &m.ReadOnly},
	})
	d.record(path, fmt.Sprintf("volume_mount[%d]", i), b, c.Attributes)
	return m
}
