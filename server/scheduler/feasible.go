package scheduler

import (
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// Candidate is one node considered for one more pod of a group.
type Candidate struct {
	Node  *structs.Node
	Job   *structs.Job
	Group *structs.TaskGroup
	// Ask is what the pod takes from the node.
	Ask structs.Resources
	// Used is what the node has already given out: the resources of its
	// active pods plus those of pods placed on it earlier in the plan.
	Used structs.Resources
	// UsedPorts are the node ports taken: by its active pods and by pods
	// placed on it earlier in the plan. Checkers only read it.
	UsedPorts map[int]bool
	// Collocated counts the pods of the same job and group on the node,
	// active ones and those placed earlier in the plan.
	Collocated int
}

// Checker is one link of the feasibility chain. Check reports whether the
// candidate's node may take the pod and, when not, a short reason naming
// the dimension that failed, such as `memory exhausted`. Reasons are
// counted across nodes, so a checker returns the same string for the same
// cause on every node. Checkers are safe for concurrent use.
type Checker interface {
	Check(c *Candidate) (ok bool, reason string)
}

// Reasons the checkers give.
const (
	ReasonNodeNotReady   = "node not ready"
	ReasonCPUExhausted   = "cpu exhausted"
	ReasonMemExhausted   = "memory exhausted"
	ReasonGPUExhausted   = "gpus exhausted"
	ReasonDistinctHosts  = "distinct_hosts"
	reasonDatacenterPref = "not in datacenter"
	reasonMissingDriver  = "missing driver "
)

// staticCheckers are the checks that depend only on the node and the group
// spec; their results hold for a whole Place call.
func staticCheckers(g *structs.TaskGroup) []Checker {
	return []Checker{
		ReadyChecker{},
		DatacenterChecker{},
		DriverChecker{},
		NewConstraintChecker(g.Constraints),
	}
}

// dynamicCheckers are the checks whose results change as pods are placed.
func dynamicCheckers(g *structs.TaskGroup) []Checker {
	var chain []Checker
	if hasDistinctHosts(g.Constraints) {
		chain = append(chain, DistinctHostsChecker{})
	}
	if len(groupPorts(g)) > 0 {
		chain = append(chain, PortChecker{})
	}
	return append(chain, ResourceChecker{})
}

// ReadyChecker passes nodes that are ready, eligible and not draining.
type ReadyChecker struct{}

// Check implements Checker.
func (ReadyChecker) Check(c *Candidate) (bool, string) {
	if !c.Node.Ready() {
		return false, ReasonNodeNotReady
	}
	return true, ""
}

// DatacenterChecker passes nodes in one of the job's datacenters. A job
// with no datacenters, or with "*" among them, may run in any.
type DatacenterChecker struct{}

// Check implements Checker. The reason is `not in datacenter "dc2"`, or
// `not in datacenters "dc2", "dc3"` for several.
func (DatacenterChecker) Check(c *Candidate) (bool, string) {
	dcs := c.Job.Datacenters
	if len(dcs) == 0 {
		return true, ""
	}
	for _, dc := range dcs {
		if dc == "*" || dc == c.Node.Datacenter {
			return true, ""
		}
	}
	return false, datacenterReason(dcs)
}

// datacenterReason names the datacenters a node is not in.
func datacenterReason(dcs []string) string {
	quoted := make([]string, len(dcs))
	for i, dc := range dcs {
		quoted[i] = quote(dc)
	}
	if len(dcs) == 1 {
		return reasonDatacenterPref + " " + quoted[0]
	}
	return reasonDatacenterPref + "s " + strings.Join(quoted, ", ")
}

// DriverChecker passes nodes where every task's driver was detected and is
// healthy.
type DriverChecker struct{}

// Check implements Checker. The reason is `missing driver "docker"`, or
// `driver "docker" unhealthy` when the node found it but it is unhealthy.
func (DriverChecker) Check(c *Candidate) (bool, string) {
	for _, t := range c.Group.Tasks {
		if t == nil || c.Node.HasDriver(t.Driver) {
			continue
		}
		if d := c.Node.Drivers[t.Driver]; d != nil && d.Detected {
			return false, "driver " + quote(t.Driver) + " unhealthy"
		}
		return false, reasonMissingDriver + quote(t.Driver)
	}
	return true, ""
}

// ResourceChecker passes nodes with room for the pod's cpu, memory and
// gpus beside what they have already given out.
type ResourceChecker struct{}

// Check implements Checker. The reason names the first dimension short, in
// the order cpu, memory, gpus: `cpu exhausted`, `memory exhausted`,
// `gpus exhausted`.
func (ResourceChecker) Check(c *Candidate) (bool, string) {
	if reason := fitReason(c.Node.Resources, c.Used, c.Ask); reason != "" {
		return false, reason
	}
	return true, ""
}

// fitReason returns "" when ask fits in capacity beside used, or the first
// dimension that does not fit.
func fitReason(capacity *structs.NodeResources, used, ask structs.Resources) string {
	var cp structs.NodeResources
	if capacity != nil {
		cp = *capacity
	}
	switch {
	case used.CPU+ask.CPU > cp.CPU:
		return ReasonCPUExhausted
	case used.MemoryMB+ask.MemoryMB > cp.MemoryMB:
		return ReasonMemExhausted
	case used.GPUs+ask.GPUs > cp.GPUs:
		return ReasonGPUExhausted
	}
	return ""
}

// DistinctHostsChecker passes nodes that hold no pod of the same job and
// group yet; it enforces a group's distinct_hosts constraint.
type DistinctHostsChecker struct{}

// Check implements Checker.
func (DistinctHostsChecker) Check(c *Candidate) (bool, string) {
	if c.Collocated > 0 {
		return false, ReasonDistinctHosts
	}
	return true, ""
}

// hasDistinctHosts reports whether constraints ask for distinct hosts.
func hasDistinctHosts(cs []*structs.Constraint) bool {
	for _, c := range cs {
		if c != nil && c.Operator == "distinct_hosts" && c.Value != "false" {
			return true
		}
	}
	return false
}

// quote double-quotes s the way the reasons show names.
func quote(s string) string { return strconv.Quote(s) }
