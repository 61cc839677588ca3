package autoscale

import (
	"math"
	"testing"
)

// pods builds n pods that asked for 100 units each, with the given use;
// a negative use is a ready pod without a sample.
func pods(uses ...float64) []Pod {
	out := make([]Pod, len(uses))
	for i, u := range uses {
		out[i] = Pod{Ready: true, Sampled: u >= 0, Usage: math.Max(u, 0), Request: 100}
	}
	return out
}

func repeat(u float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = u
	}
	return out
}

func notReady(n int) []Pod {
	out := make([]Pod, n)
	for i := range out {
		out[i] = Pod{Request: 100}
	}
	return out
}

func TestRecommend(t *testing.T) {
	cases := []struct {
		name      string
		current   int
		target    int
		pods      []Pod
		want      int
		valid     bool
		tolerated bool
		usage     float64
	}{
		{"no pods", 1, 50, nil, 1, false, false, 0},
		{"no samples", 2, 50, pods(-1, -1), 2, false, false, 0},
		{"double the target doubles the count", 2, 50, pods(100, 100), 4, true, false, 100},
		{"ceil", 3, 50, pods(60, 60, 60), 4, true, false, 60},
		{"half the target halves the count", 4, 60, pods(30, 30, 30, 30), 2, true, false, 30},
		{"idle goes to zero (min applies later)", 3, 50, pods(0, 0, 0), 0, true, false, 0},
		{"within tolerance above", 3, 50, pods(54, 54, 54), 3, true, true, 54},
		{"within tolerance below", 20, 50, pods(repeat(46, 20)...), 20, true, true, 46},
		{"at the target, nothing to tolerate", 2, 50, pods(50, 50), 2, true, false, 50},
		{"just past tolerance", 3, 50, pods(56, 56, 56), 4, true, false, 56},
		{"uneven pods average", 2, 50, pods(150, 0), 3, true, false, 75},
		// Pods not ready yet count as idle when scaling out: 2 ready at
		// 100% and 2 starting make 50% of 4 = the target: no change.
		{"not-ready pods damp a scale-out", 4, 50, append(pods(100, 100), notReady(2)...), 4, true, false, 100},
		// ...and 2 ready at 150%, 1 starting: 300/300 = 100% of 3 -> 6.
		{"not-ready pods counted idle", 3, 50, append(pods(150, 150), notReady(1)...), 6, true, false, 150},
		// Not ready pods are left out of a scale-in.
		{"not-ready pods left out of a scale-in", 3, 50, append(pods(10, 10), notReady(1)...), 1, true, false, 10},
		// A ready pod without a sample counts as fully used on a
		// scale-in: (10 + 10 + 100) / 300 = 40% -> ceil(0.8 × 3) = 3: no
		// change, since it stays the current count.
		{"missing sample holds a scale-in", 3, 50, pods(10, 10, -1), 3, true, false, 10},
		// ...and as idle on a scale-out: (200 + 0) / 300 = 66% -> 4.
		{"missing sample damps a scale-out", 3, 50, pods(100, 100, -1), 4, true, false, 100},
		// A missing sample that reverses the direction cancels it:
		// (60 + 0) / 200 = 30% < target after 60% > target.
		{"missing sample reversing the direction", 2, 50, pods(60, -1), 2, true, false, 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Recommend(tc.current, Metric{Name: "cpu", TargetPercent: tc.target, Pods: tc.pods}, Tolerance)
			if r.Desired != tc.want || r.Valid != tc.valid || r.Tolerated != tc.tolerated || math.Abs(r.UsagePercent-tc.usage) > 1e-9 {
				t.Fatalf("Recommend = %+v; want desired %d valid %v tolerated %v usage %.1f", r, tc.want, tc.valid, tc.tolerated, tc.usage)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	cases := []struct {
		name  string
		recs  []Recommendation
		want  int
		valid bool
	}{
		{"none", nil, 0, false},
		{"only invalid", []Recommendation{{Desired: 5}}, 0, false},
		{"highest valid wins", []Recommendation{{Valid: true, Desired: 2}, {Valid: true, Desired: 4}, {Desired: 9}}, 4, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, valid := Combine(tc.recs); got != tc.want || valid != tc.valid {
				t.Fatalf("Combine = %d, %v; want %d, %v", got, valid, tc.want, tc.valid)
			}
		})
	}
}
