package scheduler

import (
	"math"

	"github.com/mk-orchestrator/mk/structs"
)

// MetaScheduler is the Meta key that picks how a group's pods are ranked:
// "binpack" (the default) or "spread". It may be set in the group's Meta or
// the job's Meta; the group's wins. The job file has no spread field yet,
// so this key stands in for one:
//
//	meta { "mk.scheduler" = "spread" }
const MetaScheduler = "mk.scheduler"

// Values of MetaScheduler.
const (
	SchedulerBinPack = "binpack"
	SchedulerSpread  = "spread"
)

// Ranker scores a feasible node for one more pod: the higher, the better.
// Equal scores are broken by node ID, lowest first. Rankers are safe for
// concurrent use.
type Ranker interface {
	Score(c *Candidate) float64
}

// rankerFor returns the ranker that the group's or job's MetaScheduler
// asks for.
func rankerFor(job *structs.Job, g *structs.TaskGroup) Ranker {
	mode := job.Meta[MetaScheduler]
	if v, ok := g.Meta[MetaScheduler]; ok {
		mode = v
	}
	if mode == SchedulerSpread {
		return SpreadRanker{}
	}
	return BinPackRanker{}
}

// BinPackRanker prefers the node that would be fullest after the placement,
// so pods pack onto few nodes and large holes stay free. The score is
// Nomad's "best fit v3" on cpu and memory, scaled to [0, 1]:
// (20 - 10^freeCPU - 10^freeMem) / 18, with free* the fraction of the
// node left free after the placement. A node left full scores 1; one left
// empty scores 0.
type BinPackRanker struct{}

// Score implements Ranker.
func (BinPackRanker) Score(c *Candidate) float64 {
	cpu, mem := utilisation(c)
	total := math.Pow(10, 1-cpu) + math.Pow(10, 1-mem)
	return (20 - total) / 18
}

// SpreadRanker prefers the node with the fewest pods of the same job and
// group; among those, the least utilised one. The score is
// -Collocated - (cpu+mem)/4, with cpu and mem the fractions used after the
// placement, so one more collocated pod always costs more than any
// difference in utilisation.
type SpreadRanker struct{}

// Score implements Ranker.
func (SpreadRanker) Score(c *Candidate) float64 {
	cpu, mem := utilisation(c)
	return -float64(c.Collocated) - (cpu+mem)/4
}

// utilisation returns the fractions of the node's cpu and memory in use
// after placing the candidate's pod, each clamped to [0, 1]. A node that
// offers none of a resource counts as full on it.
func utilisation(c *Candidate) (cpu, mem float64) {
	var cp structs.NodeResources
	if c.Node.Resources != nil {
		cp = *c.Node.Resources
	}
	return fraction(c.Used.CPU+c.Ask.CPU, cp.CPU), fraction(c.Used.MemoryMB+c.Ask.MemoryMB, cp.MemoryMB)
}

// fraction is used/capacity clamped to [0, 1].
func fraction(used, capacity int) float64 {
	if capacity <= 0 {
		return 1
	}
	return math.Min(1, math.Max(0, float64(used)/float64(capacity)))
}
