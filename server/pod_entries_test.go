package server

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodEntryEnds(t *testing.T) {
	// jobs builds pods of jobs with the given numbers of pods, in order.
	jobs := func(counts ...int) []*structs.Pod {
		var out []*structs.Pod
		for j, n := range counts {
			for i := 0; i < n; i++ {
				out = append(out, &structs.Pod{ObjectMeta: structs.ObjectMeta{Namespace: "default"}, JobID: fmt.Sprintf("job-%d", j)})
			}
		}
		return out
	}
	repeat := func(n, count int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = count
		}
		return out
	}
	// entries splits pods as writePods does, with a fixed least size.
	entries := func(pods []*structs.Pod, least int) []int {
		var sizes []int
		for start := 0; start < len(pods); {
			end := entryEnd(pods, start, least)
			sizes = append(sizes, end-start)
			start = end
		}
		return sizes
	}
	tests := []struct {
		name  string
		pods  []*structs.Pod
		least int
		sizes []int
	}{
		{"none", nil, minPodsPerEntry, nil},
		{"one small job", jobs(3), minPodsPerEntry, []int{3}},
		{"a burst of small jobs while the API writes: cut at the first job end past the least", jobs(repeat(25, 3)...), minPodsPerEntry, []int{30, 30, 15}},
		{"a job end below the least is no cut", jobs(20, 20, 5), minPodsPerEntry, []int{40, 5}},
		{"the API idle: entries of the most", jobs(repeat(700, 3)...), maxPodsPerEntry, []int{1000, 1000, 100}},
		{"one large job: entries of the most", jobs(2500), minPodsPerEntry, []int{1000, 1000, 500}},
		{"a large job after small ones", jobs(3, 3, 1200, 3), minPodsPerEntry, []int{1000, 206, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entries(tt.pods, tt.least); !slices.Equal(got, tt.sizes) {
				t.Fatalf("entries of %v pods, want %v", got, tt.sizes)
			}
		})
	}
}
