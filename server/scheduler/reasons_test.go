package scheduler

import "testing"

func TestSummarize(t *testing.T) {
	cases := []struct {
		name     string
		total    int
		filtered map[string]int
		want     string
	}{
		{"no nodes", 0, nil, "no nodes registered"},
		{"one reason", 3, map[string]int{"memory exhausted": 3}, "memory exhausted on 3 nodes"},
		{"one node", 1, map[string]int{"cpu exhausted": 1}, "cpu exhausted on 1 node"},
		{"most common first", 3, map[string]int{`missing driver "docker"`: 1, "memory exhausted": 2},
			`memory exhausted on 2 nodes, missing driver "docker" on 1 node`},
		{"ties by reason", 4, map[string]int{"node not ready": 2, "cpu exhausted": 2},
			"cpu exhausted on 2 nodes, node not ready on 2 nodes"},
		{"driver everywhere", 5, map[string]int{`missing driver "docker"`: 5}, `no node has driver "docker"`},
		{"datacenter everywhere", 2, map[string]int{`not in datacenter "dc2"`: 2}, `0 nodes in datacenter "dc2"`},
		{"datacenters everywhere", 2, map[string]int{`not in datacenters "dc2", "dc3"`: 2},
			`0 nodes in datacenters "dc2", "dc3"`},
		{"datacenter on some", 3, map[string]int{`not in datacenter "dc2"`: 2, "memory exhausted": 1},
			`not in datacenter "dc2" on 2 nodes, memory exhausted on 1 node`},
		{"nothing filtered", 2, map[string]int{}, "no feasible node"},
	}
	for _, tc := range cases {
		if got := summarize(tc.total, tc.filtered); got != tc.want {
			t.Errorf("%s: summarize = %q, want %q", tc.name, got, tc.want)
		}
	}
}
