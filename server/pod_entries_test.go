package server

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodEntries(t *testing.T) {
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
	tests := []struct {
		name  string
		pods  []*structs.Pod
		sizes []int
	}{
		{"none", nil, nil},
		{"one small job", jobs(3), []int{3}},
		{"a burst of small jobs: cut at the first job end past the minimum", jobs(repeat(25, 3)...), []int{30, 30, 15}},
		{"a job end below the minimum is no cut", jobs(20, 20, 5), []int{40, 5}},
		{"one large job: entries of the maximum", jobs(2500), []int{1000, 1000, 500}},
		{"a large job after small ones", jobs(3, 3, 1200, 3), []int{1000, 206, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sizes []int
			total := 0
			for _, e := range podEntries(tt.pods) {
				sizes = append(sizes, len(e))
				total += len(e)
			}
			if !slices.Equal(sizes, tt.sizes) || total != len(tt.pods) {
				t.Fatalf("entries of %v pods (total %d of %d), want %v", sizes, total, len(tt.pods), tt.sizes)
			}
		})
	}
}
