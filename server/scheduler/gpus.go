package scheduler

import (
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// GPUs are node resources counted like cpu and memory (ResourceChecker,
// by number) and also given out by index: a pod that asks for n GPUs
// gets n indexes of its node's GPUs (0 .. node GPUs-1) that no other
// active pod holds, lowest first, so no two pods share a GPU; the plan
// applier's VerifyPlan checks the indexes again. Tasks get their pod's
// indexes (exec: CUDA_VISIBLE_DEVICES; docker: device requests).

// gpuSet is the GPU indexes taken on one node.
type gpuSet map[int]bool

// add marks indexes taken.
func (s gpuSet) add(idx []int) {
	for _, i := range idx {
		s[i] = true
	}
}

// conflict reports whether any of idx is taken, or outside the node's
// count of GPUs.
func (s gpuSet) conflict(idx []int, count int) bool {
	for _, i := range idx {
		if i < 0 || i >= count || s[i] {
			return true
		}
	}
	return false
}

// allocate returns the n lowest free indexes below count, or nil when
// fewer are free (a pod recorded before indexes holds GPUs by count
// alone: the count check has already refused what does not fit).
func (s gpuSet) allocate(n, count int) []int {
	if n <= 0 {
		return nil
	}
	out := make([]int, 0, n)
	for i := 0; i < count && len(out) < n; i++ {
		if !s[i] {
			out = append(out, i)
		}
	}
	if len(out) < n {
		return nil
	}
	return out
}

// nodeGPUCount is the node's GPUs.
func nodeGPUCount(n *structs.Node) int {
	if n == nil || n.Resources == nil {
		return 0
	}
	return n.Resources.GPUs
}

// gpuSummary is the pending reason of a pod that asks for GPUs when
// every node was filtered for want of them: `no node has 2 free GPUs`;
// "" otherwise.
func gpuSummary(total int, filtered map[string]int, ask int) string {
	if ask <= 0 || total == 0 || len(filtered) != 1 || filtered[ReasonGPUExhausted] != total {
		return ""
	}
	if ask == 1 {
		return "no node has 1 free GPU"
	}
	return "no node has " + strconv.Itoa(ask) + " free GPUs"
}
