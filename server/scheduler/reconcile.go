package scheduler

import (
	"sort"

	"github.com/mk-orchestrator/mk/structs"
)

// ReconcileCount compares the desired replica count with a group's pods and
// says how many pods to start and which to stop. It is a pure function.
//
// A pod is live when its desired status is run and its phase is not
// terminal; other pods are ignored. When there are more live pods than
// desired, the surplus is stopped: unplaced (pending) pods first, then the
// newest (highest CreateIndex), ties by highest ID. When there are fewer,
// toStart is the difference. A negative desired counts as zero.
func ReconcileCount(desired int, pods []*structs.Pod) (toStart int, toStop []*structs.Pod) {
	desired = max(desired, 0)
	var live []*structs.Pod
	for _, p := range pods {
		if p != nil && p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() {
			live = append(live, p)
		}
	}
	if len(live) <= desired {
		return desired - len(live), nil
	}
	sort.SliceStable(live, func(i, j int) bool {
		a, b := live[i], live[j]
		if ua, ub := a.NodeID == "", b.NodeID == ""; ua != ub {
			return ua
		}
		if a.CreateIndex != b.CreateIndex {
			return a.CreateIndex > b.CreateIndex
		}
		return a.ID > b.ID
	})
	surplus := len(live) - desired
	return 0, live[:surplus:surplus]
}
