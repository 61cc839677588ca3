package structs

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Shapes of the gpu-slurm options that become sbatch arguments: checked
// here so a bad value is a 400 naming the field, not a failed sbatch.
var (
	// slurmMem is --mem: a number with an optional K, M, G or T suffix.
	slurmMem = regexp.MustCompile(`^[0-9]+[KMGT]?$`)
	// slurmArray is --array: indexes and ranges with optional steps, and
	// an optional %limit ("0-15%4", "1,3,5-7:2").
	slurmArray = regexp.MustCompile(`^[0-9]+(-[0-9]+(:[0-9]+)?)?(,[0-9]+(-[0-9]+(:[0-9]+)?)?)*(%[0-9]+)?$`)
	// slurmName is a partition, account or QOS name.
	slurmName = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*$`)
)

// validateSlurm checks a gpu-slurm task's config.
func (c *TaskConfig) validateSlurm(v *validator) {
	if c.Script == "" {
		v.add("config.script", "is required by driver %q", DriverGPUSlurm)
	}
	for _, n := range []struct {
		field string
		value int
	}{{"config.gpus", c.GPUs}, {"config.nodes", c.Nodes}, {"config.ntasks", c.NTasks}, {"config.cpus_per_task", c.CPUsPerTask}} {
		if n.value < 0 {
			v.add(n.field, "must be >= 0")
		}
	}
	v.duration("config.time", c.Time)
	if c.Mem != "" && !slurmMem.MatchString(c.Mem) {
		v.add("config.mem", "%q is not a size (a number of MB, or with a K, M, G or T suffix: \"4G\")", c.Mem)
	}
	if c.Array != "" && !slurmArray.MatchString(c.Array) {
		v.add("config.array", "%q is not a Slurm job array (\"0-15\", \"1,3,5-7\", \"0-99%%10\")", c.Array)
	}
	for _, n := range []struct{ field, value string }{
		{"config.partition", c.Partition}, {"config.account", c.Account}, {"config.qos", c.QOS},
	} {
		if n.value != "" && !slurmName.MatchString(n.value) {
			v.add(n.field, "%q is not a Slurm name (letters, digits, '_', '.', '-')", n.value)
		}
	}
	names := make([]string, 0, len(c.Files))
	for name := range c.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := checkStagedName(name); err != nil {
			v.add(fmt.Sprintf("config.files[%q]", name), "%v", err)
		}
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=,\x00") {
			v.add("config.env", "has an invalid variable name %q", k)
		}
	}
}

// checkStagedName checks the name of a file staged into a task's
// directory: a plain name or a relative path that stays inside it.
func checkStagedName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("must be a relative file name")
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("must be a relative file name inside the task's directory")
		}
	}
	return nil
}
