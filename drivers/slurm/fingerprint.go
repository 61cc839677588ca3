package slurm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/drivers"
)

// Node attributes the fingerprint reports (DESIGN §10): the node's GPU
// count for the scheduler is AttrGPUs, the GPUs of the default partition.
const (
	attrPrefix = "driver." + Name + "."
	// AttrGPUs is the GPUs (gres gpu) of the partition the driver submits
	// to by default, over all its nodes.
	AttrGPUs = attrPrefix + "gpus"
	// AttrPartition is that partition.
	AttrPartition = attrPrefix + "partition"
	// AttrPartitions lists every partition, comma-separated.
	AttrPartitions = attrPrefix + "partitions"
	// AttrVersion is Slurm's version.
	AttrVersion = attrPrefix + "version"
)

// partitionAttr is the attribute with a partition's GPU total:
// driver.gpu-slurm.partition.gpu.gpus.
func partitionAttr(name string) string { return attrPrefix + "partition." + name + ".gpus" }

// partition is one partition as sinfo reports it.
type partition struct {
	Name    string
	Default bool
	Up      bool
	GPUs    int
}

// parseSinfo reads `sinfo -h -o %P|%G|%D|%a`: one line per partition and
// node configuration, GPUs per node times nodes summed by partition; the
// default partition's name ends with '*'.
func parseSinfo(out []byte) []*partition {
	byName := map[string]*partition{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "|")
		if len(f) < 4 || f[0] == "" {
			continue
		}
		name := strings.TrimSuffix(f[0], "*")
		p := byName[name]
		if p == nil {
			p = &partition{Name: name}
			byName[name] = p
			order = append(order, name)
		}
		p.Default = p.Default || strings.HasSuffix(f[0], "*")
		p.Up = p.Up || f[3] == "up"
		nodes, _ := strconv.Atoi(f[2])
		p.GPUs += gresGPUs(f[1]) * nodes
	}
	out2 := make([]*partition, 0, len(order))
	for _, n := range order {
		out2 = append(out2, byName[n])
	}
	return out2
}

// gresGPUs is the GPU count of a node's gres list ("gpu:2",
// "gpu:a100:4(S:0-1),nic:1"; "(null)" has none).
func gresGPUs(gres string) int {
	n := 0
	for _, g := range splitGres(gres) {
		if g == "gpu" || strings.HasPrefix(g, "gpu:") {
			n += gresCount(g)
		}
	}
	return n
}

// splitGres splits a gres list at the commas outside parentheses.
func splitGres(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

// gresCount is the count of one gres ("gpu:2" → 2, "gpu:a100:4(S:0)" →
// 4, "gpu" → 1).
func gresCount(g string) int {
	if i := strings.IndexByte(g, '('); i >= 0 {
		g = g[:i]
	}
	parts := strings.Split(g, ":")
	if len(parts) == 1 {
		return 1
	}
	n, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		return 1 // "gpu:a100": one of that type
	}
	return n
}

// fingerprint asks sinfo for the partitions: the driver is healthy only
// when it answers.
func (d *Driver) fingerprint(ctx context.Context) *drivers.Fingerprint {
	fp := &drivers.Fingerprint{Attributes: map[string]string{}}
	for _, name := range []string{"sbatch", "squeue", "scancel", "sinfo"} {
		if _, err := d.cli.path(name); err != nil {
			fp.Description = err.Error()
			return fp
		}
	}
	fp.Detected = true
	if _, err := d.cli.slurmConf(); err != nil {
		fp.Description = err.Error()
		return fp
	}
	out, err := d.cli.run(ctx, "sinfo", "-h", "-o", "%P|%G|%D|%a")
	if err != nil {
		fp.Description = fmt.Sprintf("sinfo does not answer: %v", err)
		return fp
	}
	parts := parseSinfo(out)
	if len(parts) == 0 {
		fp.Description = "sinfo reports no partitions"
		return fp
	}
	def := d.defaultPartition(parts)
	if def == nil {
		fp.Description = fmt.Sprintf("partition %q does not exist", d.cfg.Partition)
		return fp
	}
	names := make([]string, 0, len(parts))
	for _, p := range parts {
		names = append(names, p.Name)
		fp.Attributes[partitionAttr(p.Name)] = strconv.Itoa(p.GPUs)
	}
	sort.Strings(names)
	fp.Attributes[AttrPartitions] = strings.Join(names, ",")
	fp.Attributes[AttrPartition] = def.Name
	fp.Attributes[AttrGPUs] = strconv.Itoa(def.GPUs)
	if v, err := d.cli.run(ctx, "sinfo", "--version"); err == nil {
		f := strings.Fields(string(v))
		if len(f) > 0 {
			fp.Attributes[AttrVersion] = f[len(f)-1]
		}
	}
	fp.Healthy = true
	fp.Description = fmt.Sprintf("slurm %s, partition %s with %d GPUs", fp.Attributes[AttrVersion], def.Name, def.GPUs)
	return fp
}

// defaultPartition is the configured partition, else Slurm's default,
// else the first; nil when the configured one does not exist.
func (d *Driver) defaultPartition(parts []*partition) *partition {
	for _, p := range parts {
		if d.cfg.Partition != "" && p.Name == d.cfg.Partition {
			return p
		}
	}
	if d.cfg.Partition != "" {
		return nil
	}
	for _, p := range parts {
		if p.Default {
			return p
		}
	}
	return parts[0]
}
