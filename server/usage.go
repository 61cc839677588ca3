package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// usageSpan is how long the leader keeps a pod's usage samples.
const usageSpan = time.Minute

// usageFreshIntervals is how many of its client's sampling intervals a
// sample counts as the pod's current use; usageFreshMin is the least
// time it does, so that a report delayed by a slow request is not lost.
const (
	usageFreshIntervals = 3
	usageFreshMin       = 10 * time.Second
)

// maxUsageReport bounds the pods of one usage report.
const maxUsageReport = 10_000

// usageWindow holds the pod usage samples that clients report, on the
// leader, in memory only: a sample matters for seconds, and writing one
// per pod every few seconds through Raft would cost every server a log
// entry and a state write for nothing that must survive. A new leader
// starts empty and the autoscaler waits for fresh reports. Safe for
// concurrent use.
type usageWindow struct {
	mu   sync.Mutex
	pods map[structs.NamespacedID]*podUsage
}

// podUsage is the recent samples of one pod, oldest first, with the time
// the leader received each (the clients' clocks are never compared
// with the leader's).
type podUsage struct {
	nodeID   string
	interval time.Duration
	samples  []receivedUsage
}

type receivedUsage struct {
	at    time.Time
	usage structs.PodUsage
}

func newUsageWindow() *usageWindow {
	return &usageWindow{pods: map[structs.NamespacedID]*podUsage{}}
}

// record adds a node's samples, received at now.
func (w *usageWindow) record(nodeID string, interval time.Duration, usage []*structs.PodUsage, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range usage {
		if u == nil || u.PodID == "" {
			continue
		}
		k := structs.NamespacedID{Namespace: structs.NamespaceOrDefault(u.Namespace), ID: u.PodID}
		p := w.pods[k]
		if p == nil || p.nodeID != nodeID {
			p = &podUsage{nodeID: nodeID}
			w.pods[k] = p
		}
		p.interval = interval
		p.samples = append(p.samples, receivedUsage{at: now, usage: *u})
		p.samples = trimUsage(p.samples, now)
	}
}

// trimUsage drops samples older than usageSpan.
func trimUsage(samples []receivedUsage, now time.Time) []receivedUsage {
	i := 0
	for i < len(samples) && now.Sub(samples[i].at) > usageSpan {
		i++
	}
	return samples[i:]
}

// latest returns the newest sample of a pod that its node reported
// recently enough to be its current use.
func (w *usageWindow) latest(namespace, podID, nodeID string, now time.Time) (structs.PodUsage, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pods[structs.NamespacedID{Namespace: namespace, ID: podID}]
	if p == nil || p.nodeID != nodeID || len(p.samples) == 0 {
		return structs.PodUsage{}, false
	}
	last := p.samples[len(p.samples)-1]
	fresh := max(usageFreshIntervals*p.interval, usageFreshMin)
	if now.Sub(last.at) > fresh {
		return structs.PodUsage{}, false
	}
	return last.usage, true
}

// prune forgets pods without a sample within usageSpan.
func (w *usageWindow) prune(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, p := range w.pods {
		if p.samples = trimUsage(p.samples, now); len(p.samples) == 0 {
			delete(w.pods, k)
		}
	}
}

// reset forgets every sample: a leadership starts with none.
func (w *usageWindow) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pods = map[structs.NamespacedID]*podUsage{}
}

// ReportPodUsage takes a node's samples of its pods' resource use into
// the leader's window (see usageWindow). It must run on the leader.
func (s *Server) ReportPodUsage(nodeID string, body *structs.PodUsageBody) error {
	if !s.IsLeader() {
		return fmt.Errorf("%w: pod usage goes to the leader", structs.ErrNoLeader)
	}
	interval, err := time.ParseDuration(body.Interval)
	if err != nil || interval <= 0 {
		return &structs.ValidationError{Field: "Interval", Msg: fmt.Sprintf("must be a positive duration such as \"5s\", got %q", body.Interval)}
	}
	if len(body.Usage) > maxUsageReport {
		return structs.NewBadRequest("a usage report holds at most %d pods, got %d", maxUsageReport, len(body.Usage))
	}
	s.usage.record(nodeID, interval, body.Usage, time.Now())
	return nil
}
