package scheduler

import (
	"container/heap"
	"sort"

	"github.com/mk-orchestrator/mk/structs"
)

// nodeState is a node with what it has given out so far in one Place call:
// the resources of its active pods plus those of earlier placements.
type nodeState struct {
	node *structs.Node
	used structs.Resources
	// ports are the node ports taken, likewise (nil until one is).
	ports portSet
	// gpus are the GPU indexes taken, likewise (nil until one is).
	gpus gpuSet
}

// cluster is the scheduler's working copy of the cluster for one Place
// call. It reads State once, then tracks usage as pods are placed.
type cluster struct {
	job   *structs.Job
	nodes []nodeState // sorted by node ID
	// colloc counts, per group of job, the pods of that group on each node
	// (indexed like nodes): active ones and those placed in this call.
	colloc map[string][]int
	// static caches the node-level checks of each group spec.
	static map[staticKey]*staticResult
}

// staticKey identifies a group spec: its name and job version.
type staticKey struct {
	group   string
	version uint64
}

// staticResult is the outcome of the checks that depend only on the node
// and the group spec, which placements in the call do not change.
type staticResult struct {
	feasible []int          // node indexes that passed
	filtered map[string]int // reason → number of nodes
}

// newCluster reads every node and its pods once. Pods in exclude are being
// placed and do not count where they may already be recorded.
func newCluster(st State, job *structs.Job, exclude map[string]bool) *cluster {
	all := st.Nodes()
	nodes := make([]nodeState, 0, len(all))
	for _, n := range all {
		if n != nil {
			nodes = append(nodes, nodeState{node: n})
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].node.ID < nodes[j].node.ID })
	cl := &cluster{
		job:    job,
		nodes:  nodes,
		colloc: map[string][]int{},
		static: map[staticKey]*staticResult{},
	}
	ns := structs.NamespaceOrDefault(job.Namespace)
	for i := range nodes {
		for _, p := range st.PodsByNode(nodes[i].node.ID) {
			if !p.Active() || exclude[p.ID] {
				continue
			}
			nodes[i].used = addResources(nodes[i].used, podAsk(p, nil))
			nodes[i].takePod(p)
			if p.JobID == job.ID && structs.NamespaceOrDefault(p.Namespace) == ns {
				cl.collocFor(p.Group)[i]++
			}
		}
	}
	return cl
}

// takePod marks the ports and GPUs an active pod holds on the node.
func (n *nodeState) takePod(p *structs.Pod) {
	n.takeGPUs(p.GPUs)
	if len(p.Ports) == 0 && len(groupPorts(p.Template)) == 0 {
		return // most pods: no map for their node
	}
	if n.ports == nil {
		n.ports = portSet{}
	}
	n.ports.addPod(p)
}

// takeGPUs marks GPU indexes taken.
func (n *nodeState) takeGPUs(idx []int) {
	if len(idx) == 0 {
		return
	}
	if n.gpus == nil {
		n.gpus = gpuSet{}
	}
	n.gpus.add(idx)
}

// take records a placement on the node: its resources, ports and GPUs.
func (n *nodeState) take(ask structs.Resources, ports []*structs.AllocatedPort, gpus []int) {
	n.used = addResources(n.used, ask)
	n.takeGPUs(gpus)
	if len(ports) > 0 {
		if n.ports == nil {
			n.ports = portSet{}
		}
		n.ports.add(ports)
	}
}

// place gives pod p of batch b the node: it allocates the pod's ports and
// records the placement on the node and in res.
func (n *nodeState) place(b *batch, p *structs.Pod, res *Result) {
	ports := allocatePorts(n.node, b.group, p.ID, n.ports)
	gpus := n.gpus.allocate(b.key.ask.GPUs, nodeGPUCount(n.node))
	n.take(b.key.ask, ports, gpus)
	res.Placements = append(res.Placements, Placement{
		PodID: p.ID, NodeID: n.node.ID, NodeName: n.node.Name, Resources: b.key.ask, Ports: ports, GPUs: gpus,
	})
}

// collocFor returns the per-node pod counts of a group of the job.
func (cl *cluster) collocFor(group string) []int {
	c := cl.colloc[group]
	if c == nil {
		c = make([]int, len(cl.nodes))
		cl.colloc[group] = c
	}
	return c
}

// staticFor runs the node-level checkers for a batch's group spec, once per
// spec and call.
func (cl *cluster) staticFor(b *batch) *staticResult {
	k := staticKey{group: b.key.group, version: b.key.version}
	if r := cl.static[k]; r != nil {
		return r
	}
	chain := staticCheckers(b.group)
	r := &staticResult{filtered: map[string]int{}}
	c := &Candidate{Job: cl.job, Group: b.group}
	for i := range cl.nodes {
		c.Node = cl.nodes[i].node
		if ok, reason := runChain(chain, c); ok {
			r.feasible = append(r.feasible, i)
		} else {
			r.filtered[reason]++
		}
	}
	cl.static[k] = r
	return r
}

// runChain runs checkers in order and stops at the first that fails.
func runChain(chain []Checker, c *Candidate) (bool, string) {
	for _, ch := range chain {
		if ok, reason := ch.Check(c); !ok {
			return false, reason
		}
	}
	return true, ""
}

// batchRun places one batch: its dynamic checkers, its ranker and the heap
// of nodes that can still take one of its pods.
type batchRun struct {
	cl       *cluster
	b        *batch
	colloc   []int
	chain    []Checker
	rank     Ranker
	cand     Candidate
	filtered map[string]int
	heap     nodeHeap
}

// evaluate checks node i for one more pod of the batch and scores it.
func (r *batchRun) evaluate(i int) (ok bool, score float64, reason string) {
	c := &r.cand
	c.Node = r.cl.nodes[i].node
	c.Used = r.cl.nodes[i].used
	c.UsedPorts = r.cl.nodes[i].ports
	c.Collocated = r.colloc[i]
	if ok, reason := runChain(r.chain, c); !ok {
		return false, 0, reason
	}
	return true, r.rank.Score(c), ""
}

// placeBatch places the pods of b one by one on the best node left.
func (cl *cluster) placeBatch(b *batch, res *Result) {
	st := cl.staticFor(b)
	r := &batchRun{
		cl:       cl,
		b:        b,
		colloc:   cl.collocFor(b.key.group),
		chain:    dynamicCheckers(b.group),
		rank:     rankerFor(cl.job, b.group),
		cand:     Candidate{Job: cl.job, Group: b.group, Ask: b.key.ask},
		filtered: make(map[string]int, len(st.filtered)+2),
		heap:     nodeHeap{nodes: cl.nodes},
	}
	for reason, n := range st.filtered {
		r.filtered[reason] = n
	}
	for _, i := range st.feasible {
		if ok, score, reason := r.evaluate(i); ok {
			r.heap.items = append(r.heap.items, heapItem{node: i, score: score})
		} else {
			r.filtered[reason]++
		}
	}
	heap.Init(&r.heap)
	summary := ""
	for _, p := range b.pods {
		if r.heap.Len() == 0 {
			if summary == "" {
				summary = gpuSummary(len(cl.nodes), r.filtered, b.key.ask.GPUs)
				if summary == "" {
					summary = summarize(len(cl.nodes), r.filtered)
				}
			}
			res.Failures = append(res.Failures, Failure{PodID: p.ID, Reason: summary})
			continue
		}
		i := r.heap.items[0].node
		cl.nodes[i].place(b, p, res)
		r.colloc[i]++
		if ok, score, reason := r.evaluate(i); ok {
			r.heap.items[0].score = score
			heap.Fix(&r.heap, 0)
		} else {
			heap.Pop(&r.heap)
			r.filtered[reason]++
		}
	}
}

// placePinned places a batch of pods pinned to one node (a system group's
// pods): each goes there if the node passes every check with room for it,
// or stays unplaced with the node's reason.
func (cl *cluster) placePinned(b *batch, res *Result) {
	i := sort.Search(len(cl.nodes), func(i int) bool { return cl.nodes[i].node.ID >= b.key.pinned })
	if i == len(cl.nodes) || cl.nodes[i].node.ID != b.key.pinned {
		for _, p := range b.pods {
			res.Failures = append(res.Failures, Failure{PodID: p.ID, Reason: "node " + quote(b.key.pinned) + " not found"})
		}
		return
	}
	n := &cl.nodes[i]
	chain := append(staticCheckers(b.group), dynamicCheckers(b.group)...)
	colloc := cl.collocFor(b.key.group)
	c := Candidate{Job: cl.job, Group: b.group, Ask: b.key.ask, Node: n.node}
	for _, p := range b.pods {
		c.Used, c.UsedPorts, c.Collocated = n.used, n.ports, colloc[i]
		if ok, reason := runChain(chain, &c); !ok {
			res.Failures = append(res.Failures, Failure{PodID: p.ID, Reason: reason + " on node " + quote(n.node.Name)})
			continue
		}
		n.place(b, p, res)
		colloc[i]++
	}
}

// heapItem is a feasible node and its score for the batch's next pod.
type heapItem struct {
	node  int
	score float64
}

// nodeHeap orders feasible nodes best first: highest score, then lowest
// node ID, so the choice is deterministic.
type nodeHeap struct {
	nodes []nodeState
	items []heapItem
}

func (h *nodeHeap) Len() int { return len(h.items) }

func (h *nodeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.score != b.score {
		return a.score > b.score
	}
	return h.nodes[a.node].node.ID < h.nodes[b.node].node.ID
}

func (h *nodeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }

func (h *nodeHeap) Push(x any) { h.items = append(h.items, x.(heapItem)) }

func (h *nodeHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

// addResources returns a + b.
func addResources(a, b structs.Resources) structs.Resources {
	return structs.Resources{
		CPU:      a.CPU + b.CPU,
		MemoryMB: a.MemoryMB + b.MemoryMB,
		GPUs:     a.GPUs + b.GPUs,
	}
}
