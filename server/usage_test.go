package server

import (
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// TestUsageWindow: the leader takes a pod's newest sample as its use
// while it is fresh (three of its client's intervals, at least 10 s),
// only from the pod's own node, and forgets samples past a minute.
func TestUsageWindow(t *testing.T) {
	w := newUsageWindow()
	t0 := time.Unix(1_000_000, 0)
	sample := func(pod string, mhz float64) *structs.PodUsage {
		return &structs.PodUsage{PodID: pod, CPUMHz: mhz, Tasks: 1}
	}
	w.record("n1", 5*time.Second, []*structs.PodUsage{sample("a", 10), sample("b", 20)}, t0)
	w.record("n1", 5*time.Second, []*structs.PodUsage{sample("a", 30)}, t0.Add(5*time.Second))
	cases := []struct {
		name   string
		pod    string
		node   string
		at     time.Duration
		want   float64
		wantOK bool
	}{
		{"newest sample", "a", "n1", 6 * time.Second, 30, true},
		{"fresh for three intervals", "b", "n1", 15 * time.Second, 20, true},
		{"stale after three intervals", "b", "n1", 16 * time.Second, 0, false},
		{"another node's pod", "a", "n2", 6 * time.Second, 0, false},
		{"never reported", "c", "n1", 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, ok := w.latest(structs.DefaultNamespace, tc.pod, tc.node, t0.Add(tc.at))
			if ok != tc.wantOK || u.CPUMHz != tc.want {
				t.Fatalf("latest = %v, %v; want %v, %v", u.CPUMHz, ok, tc.want, tc.wantOK)
			}
		})
	}
	// A short interval is still fresh for usageFreshMin.
	w.record("n1", 100*time.Millisecond, []*structs.PodUsage{sample("c", 5)}, t0)
	if _, ok := w.latest(structs.DefaultNamespace, "c", "n1", t0.Add(9*time.Second)); !ok {
		t.Fatal("a sample of a 100ms interval is stale before usageFreshMin")
	}
	w.prune(t0.Add(61 * time.Second))
	if n := len(w.pods); n != 1 {
		t.Fatalf("%d pods kept after a minute, want 1 (a, sampled at 5 s)", n)
	}
	w.reset()
	if _, ok := w.latest(structs.DefaultNamespace, "a", "n1", t0.Add(6*time.Second)); ok {
		t.Fatal("a sample survived reset")
	}
}
