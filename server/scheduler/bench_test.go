package scheduler

import (
	"fmt"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// benchCluster is 1,000 nodes in two datacenters, each already running
// five pods of another job, and 10,000 pods of one group to place.
func benchCluster() (*testState, *structs.Job, []*structs.Pod) {
	other := testJob("other", testGroup("g", 200, 256))
	old := testPods(other, "g", 5000, "old")
	st := newTestState()
	for i := range 1000 {
		n := testNode(fmt.Sprintf("node-%04d", i), 8000, 16384)
		if i%2 == 1 {
			n.Datacenter = "dc2"
		}
		st.nodes = append(st.nodes, n)
		for _, p := range old[i*5 : i*5+5] {
			st.add(runningOn(p, n.ID))
		}
	}
	job := testJob("web", testGroup("g", 250, 512))
	job.Datacenters = []string{"dc1", "dc2"}
	job.Groups[0].Constraints = []*structs.Constraint{
		{Attribute: "${attr.kernel.name}", Operator: "=", Value: "linux"},
		{Attribute: "${attr.cpu.arch}", Operator: "regexp", Value: "^(amd64|arm64)$"},
	}
	return st, job, testPods(job, "g", 10000, "web")
}

func BenchmarkPlace10kPods1kNodes(b *testing.B) {
	for _, mode := range []string{SchedulerBinPack, SchedulerSpread} {
		b.Run(mode, func(b *testing.B) {
			st, job, pods := benchCluster()
			job.Meta = map[string]string{MetaScheduler: mode}
			b.ReportAllocs()
			for b.Loop() {
				r := Place(st, pods, job)
				if len(r.Placements) != len(pods) {
					b.Fatalf("placed %d of %d: %+v", len(r.Placements), len(pods), r.Failures[0])
				}
			}
		})
	}
}

func BenchmarkVerifyPlan10k(b *testing.B) {
	st, job, pods := benchCluster()
	plan := Place(st, pods, job).Placements
	b.ReportAllocs()
	for b.Loop() {
		if acc, _ := VerifyPlan(st, plan); len(acc) != len(plan) {
			b.Fatalf("accepted %d of %d", len(acc), len(plan))
		}
	}
}

// TestPlaceLargeCluster runs the benchmark's placement once and checks it
// is sound: every pod placed, no node overcommitted, bin-pack filling
// nodes in order.
func TestPlaceLargeCluster(t *testing.T) {
	st, job, pods := benchCluster()
	r := Place(st, pods, job)
	if len(r.Placements) != len(pods) || len(r.Failures) != 0 {
		t.Fatalf("placed %d, failed %d, want all %d placed", len(r.Placements), len(r.Failures), len(pods))
	}
	acc, rej := VerifyPlan(st, r.Placements)
	if len(rej) != 0 || len(acc) != len(pods) {
		t.Fatalf("VerifyPlan rejected %d placements", len(rej))
	}
	// Each node takes min((8000-1000)/250, (16384-1280)/512) = 28 pods.
	counts := nodeCounts(r.Placements)
	if len(counts) != 358 || counts[0] != "node-0000=28" || counts[356] != "node-0356=28" {
		t.Fatalf("bin-pack spread pods over %d nodes: first %q", len(counts), counts[:3])
	}
}
