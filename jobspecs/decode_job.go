package jobspecs

import (
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2"
	"github.com/mk-orchestrator/mk/structs"
)

// blocks builds block header schemas: a name ending in ":label" takes one
// label called "name".
func blocks(names ...string) []hcl.BlockHeaderSchema {
	out := make([]hcl.BlockHeaderSchema, len(names))
	for i, n := range names {
		if len(n) > 6 && n[len(n)-6:] == ":label" {
			out[i] = hcl.BlockHeaderSchema{Type: n[:len(n)-6], LabelNames: []string{"name"}}
		} else {
			out[i] = hcl.BlockHeaderSchema{Type: n}
		}
	}
	return out
}

// single returns the one block of a type, or nil; later ones are errors.
func (d *decoder) single(c *hcl.BodyContent, typ, parent string) *hcl.Block {
	bs := c.Blocks.OfType(typ)
	if len(bs) == 0 {
		return nil
	}
	for _, b := range bs[1:] {
		d.errAt(b.DefRange, "Duplicate %s block; only one %s block is allowed in a %s, the first is at %s",
			typ, typ, parent, posString(bs[0].DefRange))
	}
	return bs[0]
}

func (d *decoder) decodeJob(b *hcl.Block) *structs.Job {
	j := &structs.Job{Type: structs.JobTypeService}
	j.Name = b.Labels[0]
	fields := []field{
		{"namespace", &j.Namespace},
		{"type", &j.Type},
		{"datacenters", &j.Datacenters},
		{"priority", &j.Priority},
	}
	c := d.content(b.Body, fields, blocks("meta", "group:label")...)
	path := fmt.Sprintf("job %q", j.Name)
	d.record(path, "", b, c.Attributes)
	d.pos[path+" name"] = b.LabelRanges[0]
	if mb := d.single(c, "meta", "job"); mb != nil {
		j.Meta = d.attrMap(mb)
		d.recordMap(path, "meta", mb)
	}
	for _, gb := range c.Blocks.OfType("group") {
		j.Groups = append(j.Groups, d.decodeGroup(gb, path, j.Type))
	}
	return j
}

// recordMap records the attributes of a block of arbitrary attributes.
func (d *decoder) recordMap(path, prefix string, b *hcl.Block) {
	attrs, _ := b.Body.JustAttributes()
	d.record(path, prefix, b, attrs)
}

var groupBlocks = blocks("meta", "update", "scaling", "constraint", "volume:label",
	"network", "service", "ingress", "restart", "task:label")

func (d *decoder) decodeGroup(b *hcl.Block, jobPath, jobType string) *structs.TaskGroup {
	g := &structs.TaskGroup{Name: b.Labels[0]}
	// count stays unset (math.MinInt is out of any decoded int's range)
	// when the attribute is absent or null.
	count := math.MinInt
	c := d.content(b.Body, []field{{"count", &count}, {"shutdown_delay", duration{&g.ShutdownDelay}}}, groupBlocks...)
	path := fmt.Sprintf("%s group %q", jobPath, g.Name)
	d.record(path, "", b, c.Attributes)
	d.pos[path+" name"] = b.LabelRanges[0]
	if mb := d.single(c, "meta", "group"); mb != nil {
		g.Meta = d.attrMap(mb)
		d.recordMap(path, "meta", mb)
	}
	if ub := d.single(c, "update", "group"); ub != nil {
		g.Update = d.decodeUpdate(ub, path)
	}
	if sb := d.single(c, "scaling", "group"); sb != nil {
		g.Scaling = d.decodeScaling(sb, path)
	}
	for i, cb := range c.Blocks.OfType("constraint") {
		g.Constraints = append(g.Constraints, d.decodeConstraint(cb, path, i))
	}
	for _, vb := range c.Blocks.OfType("volume") {
		g.Volumes = append(g.Volumes, d.decodeVolume(vb, path))
	}
	if nb := d.single(c, "network", "group"); nb != nil {
		g.Network = d.decodeNetwork(nb, path)
	}
	for _, sb := range c.Blocks.OfType("service") {
		g.Services = append(g.Services, d.decodeService(sb, path))
	}
	if ib := d.single(c, "ingress", "group"); ib != nil {
		g.Ingress = d.decodeIngress(ib, path)
	}
	if rb := d.single(c, "restart", "group"); rb != nil {
		g.Restart = d.decodeRestart(rb, path, jobType)
	}
	for _, tb := range c.Blocks.OfType("task") {
		g.Tasks = append(g.Tasks, d.decodeTask(tb, path))
	}
	switch {
	case count != math.MinInt:
		g.Count = count
	case g.Scaling != nil:
		g.Count = g.Scaling.Min
	default:
		g.Count = 1
	}
	return g
}
