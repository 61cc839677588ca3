package scheduler

import (
	"math"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestBinPackRanker(t *testing.T) {
	node := testNode("n", 1000, 2000)
	cases := []struct {
		name       string
		used, ask  structs.Resources
		want       float64
		wantApprox bool
	}{
		{name: "left empty", want: 0},
		{name: "left full", used: structs.Resources{CPU: 500, MemoryMB: 1000},
			ask: structs.Resources{CPU: 500, MemoryMB: 1000}, want: 1},
		{name: "half", used: structs.Resources{CPU: 400, MemoryMB: 800},
			ask: structs.Resources{CPU: 100, MemoryMB: 200}, want: (20 - 2*math.Sqrt(10)) / 18},
		{name: "cpu full memory empty", ask: structs.Resources{CPU: 1000}, want: 9.0 / 18},
		{name: "overcommitted clamps", used: structs.Resources{CPU: 5000, MemoryMB: 5000}, want: 1},
	}
	for _, tc := range cases {
		got := BinPackRanker{}.Score(&Candidate{Node: node, Used: tc.used, Ask: tc.ask})
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: score %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBinPackPrefersFullerNode(t *testing.T) {
	ask := structs.Resources{CPU: 100, MemoryMB: 100}
	empty := BinPackRanker{}.Score(&Candidate{Node: testNode("a", 1000, 1000), Ask: ask})
	fuller := BinPackRanker{}.Score(&Candidate{Node: testNode("b", 1000, 1000), Ask: ask,
		Used: structs.Resources{CPU: 500, MemoryMB: 500}})
	if !(fuller > empty) {
		t.Fatalf("fuller node scores %v, empty %v; want fuller higher", fuller, empty)
	}
}

func TestSpreadRanker(t *testing.T) {
	node := testNode("n", 1000, 1000)
	cases := []struct {
		name       string
		collocated int
		used       structs.Resources
		want       float64
	}{
		{name: "empty", want: 0},
		{name: "full, none of the group", used: structs.Resources{CPU: 1000, MemoryMB: 1000}, want: -0.5},
		{name: "empty, one of the group", collocated: 1, want: -1},
		{name: "half used, two of the group", collocated: 2,
			used: structs.Resources{CPU: 500, MemoryMB: 500}, want: -2.25},
	}
	for _, tc := range cases {
		got := SpreadRanker{}.Score(&Candidate{Node: node, Used: tc.used, Collocated: tc.collocated})
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: score %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRankerFor(t *testing.T) {
	cases := []struct {
		name           string
		jobMeta, gMeta map[string]string
		want           Ranker
	}{
		{name: "default", want: BinPackRanker{}},
		{name: "job spread", jobMeta: map[string]string{MetaScheduler: "spread"}, want: SpreadRanker{}},
		{name: "group spread", gMeta: map[string]string{MetaScheduler: "spread"}, want: SpreadRanker{}},
		{name: "group overrides job", jobMeta: map[string]string{MetaScheduler: "spread"},
			gMeta: map[string]string{MetaScheduler: "binpack"}, want: BinPackRanker{}},
		{name: "unknown value", gMeta: map[string]string{MetaScheduler: "random"}, want: BinPackRanker{}},
	}
	for _, tc := range cases {
		j := testJob("web")
		j.Meta = tc.jobMeta
		g := testGroup("g", 1, 1)
		g.Meta = tc.gMeta
		if got := rankerFor(j, g); got != tc.want {
			t.Errorf("%s: ranker %T, want %T", tc.name, got, tc.want)
		}
	}
}
