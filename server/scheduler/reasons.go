package scheduler

import (
	"sort"
	"strconv"
	"strings"
)

// Summaries of why a pod could not be placed, beside the per-node counts.
const (
	ReasonNoNodes = "no nodes registered"
	// ReasonNoneFeasible is given only if no node was filtered with a
	// reason, which the checkers do not allow; it is a safety net.
	ReasonNoneFeasible = "no feasible node"
)

// summarize turns the per-node reasons of the nodes that were filtered into
// one line for a pod's PendingReason. total is the number of nodes.
//
//   - no nodes at all: `no nodes registered`
//   - every node lacks the same driver: `no node has driver "docker"`
//   - every node is outside the job's datacenters: `0 nodes in datacenter "dc2"`
//   - otherwise each reason with its count, most common first, ties by
//     reason: `memory exhausted on 2 nodes, missing driver "docker" on 1 node`
func summarize(total int, filtered map[string]int) string {
	if total == 0 {
		return ReasonNoNodes
	}
	if len(filtered) == 0 {
		return ReasonNoneFeasible
	}
	if len(filtered) == 1 {
		for reason, n := range filtered {
			if n != total {
				break
			}
			if driver, ok := strings.CutPrefix(reason, reasonMissingDriver); ok {
				return "no node has driver " + driver
			}
			if strings.HasPrefix(reason, reasonDatacenterPref) {
				return "0 nodes in " + strings.TrimPrefix(reason, "not in ")
			}
		}
	}
	reasons := make([]string, 0, len(filtered))
	for r := range filtered {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := reasons[i], reasons[j]
		if filtered[a] != filtered[b] {
			return filtered[a] > filtered[b]
		}
		return a < b
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = r + " on " + nodeCount(filtered[r])
	}
	return strings.Join(parts, ", ")
}

// nodeCount is "1 node" or "n nodes".
func nodeCount(n int) string {
	if n == 1 {
		return "1 node"
	}
	return strconv.Itoa(n) + " nodes"
}
