// Package scheduler is the leader's placement logic. It is pure: given a
// read-only view of the cluster (State), the pods to place and their job, it
// returns where each pod goes, or why it cannot go anywhere. It does no I/O,
// reads no clock and uses no randomness, so the same inputs always give the
// same plan.
//
// Placement follows Nomad's shape: a feasibility chain of small checkers
// (node ready, datacenter, driver, constraints, distinct hosts, ports,
// resources)
// filters the nodes, a ranker (bin-pack by default, spread on request)
// scores the feasible ones, and the best score wins, ties broken by node ID.
// The leader's plan applier re-checks the plan against the newest state with
// VerifyPlan before committing it, because other plans may have been
// committed since the scheduler's snapshot was taken.
package scheduler

import (
	"github.com/mk-orchestrator/mk/structs"
)

// State is the read-only view of the cluster the scheduler works on. The
// leader implements it over one go-memdb snapshot, so every call within one
// Place or VerifyPlan sees the same state. The scheduler calls it from one
// goroutine and never modifies what it returns; implementations need not be
// safe for concurrent use unless callers share one between goroutines.
type State interface {
	// Nodes returns every registered node, in any order.
	Nodes() []*structs.Node
	// PodsByNode returns the pods placed on a node, whatever their status.
	PodsByNode(nodeID string) []*structs.Pod
}

// Placement puts one pod on one node.
type Placement struct {
	PodID    string
	NodeID   string
	NodeName string
	// Resources are what the pod takes from the node; VerifyPlan checks
	// them against the node's room.
	Resources structs.Resources
	// Ports are the node ports the pod gets (its group's network ports);
	// VerifyPlan checks that they are still free.
	Ports []*structs.AllocatedPort
	// GPUs are the indexes of the node's GPUs the pod gets
	// (Resources.GPUs of them); VerifyPlan checks that they are still
	// free.
	GPUs []int
}

// Failure is a pod that could not be placed, with a summary of why the
// nodes were filtered, such as
// `memory exhausted on 2 nodes, missing driver "docker" on 1 node`.
// The leader stores Reason as the pod's PendingReason.
type Failure struct {
	PodID  string
	Reason string
}

// Result is the outcome of one Place call.
type Result struct {
	// Placements are in the order the pods were placed.
	Placements []Placement
	// Failures are the pods that fit on no node.
	Failures []Failure
}

// Place puts each pod on the best feasible node. All pods belong to job;
// each pod's group is pod.Template, or the job's group named pod.Group when
// the pod carries no template. Resources used by earlier placements of the
// same call count against a node like those of its active pods.
//
// Pods are placed batch by batch, a batch being the pods of one group, job
// version and resource ask, in the order each batch first appears in pods;
// within a batch, pods keep their order. Pods being placed do not count
// against the node they may already be recorded on. Pods of one group and
// job version are taken to share one template; nil pods are skipped.
//
// Place evaluates every node once per batch, then keeps the feasible nodes
// in a heap ordered by score; a placement changes only the chosen node's
// score, so each further pod costs O(log nodes).
func Place(st State, pods []*structs.Pod, job *structs.Job) *Result {
	if job == nil {
		job = &structs.Job{}
	}
	exclude := make(map[string]bool, len(pods))
	for _, p := range pods {
		if p != nil {
			exclude[p.ID] = true
		}
	}
	cl := newCluster(st, job, exclude)
	res := &Result{}
	batches, orphans := makeBatches(pods, job)
	for _, p := range orphans {
		res.Failures = append(res.Failures, Failure{
			PodID:  p.ID,
			Reason: "group " + quote(p.Group) + " not found in job " + quote(job.ID),
		})
	}
	for _, b := range batches {
		if b.key.pinned != "" {
			cl.placePinned(b, res)
		} else {
			cl.placeBatch(b, res)
		}
	}
	return res
}

// NodeFeasible runs the checks that depend only on the node and the group
// spec (ready and eligible, datacenter, drivers, constraints). A system
// group gets a pod on every node that passes them; whether the pod fits
// is then the scheduler's to decide, like any other placement.
func NodeFeasible(job *structs.Job, g *structs.TaskGroup, n *structs.Node) (bool, string) {
	return runChain(staticCheckers(g), &Candidate{Job: job, Group: g, Node: n})
}

// batchKey identifies pods that place alike: same group spec and same ask.
type batchKey struct {
	group   string
	version uint64
	ask     structs.Resources
	// pinned is the node pods of a system group must run on ("" for any).
	pinned string
}

// batch is a run of pods that share a batchKey.
type batch struct {
	key   batchKey
	group *structs.TaskGroup
	pods  []*structs.Pod
}

// makeBatches groups pods by batchKey in order of first appearance, and
// returns the pods whose group cannot be found.
func makeBatches(pods []*structs.Pod, job *structs.Job) (batches []*batch, orphans []*structs.Pod) {
	index := map[batchKey]*batch{}
	for _, p := range pods {
		if p == nil {
			continue
		}
		g := p.Template
		if g == nil {
			g = job.LookupGroup(p.Group)
		}
		if g == nil {
			orphans = append(orphans, p)
			continue
		}
		name := p.Group
		if name == "" {
			name = g.Name
		}
		k := batchKey{group: name, version: p.JobVersion, ask: podAsk(p, g), pinned: p.PinnedNodeID}
		b := index[k]
		if b == nil {
			b = &batch{key: k, group: g}
			index[k] = b
			batches = append(batches, b)
		}
		b.pods = append(b.pods, p)
	}
	return batches, orphans
}

// podAsk is what a pod takes from its node: its Resources, or the sum of its
// group's tasks when it has none.
func podAsk(p *structs.Pod, g *structs.TaskGroup) structs.Resources {
	if p.Resources != nil {
		return *p.Resources
	}
	if g == nil {
		g = p.Template
	}
	if g == nil {
		return structs.Resources{}
	}
	return *structs.GroupResources(g)
}
