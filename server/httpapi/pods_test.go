package httpapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodFilter(t *testing.T) {
	now := time.Unix(10000, 0)
	pod := func(node, phase string, ago time.Duration) *structs.Pod {
		return &structs.Pod{NodeID: "abcd-" + node, NodeName: node, Phase: phase, ModifyTime: now.Add(-ago).UnixNano()}
	}
	tests := []struct {
		name, query string
		pod         *structs.Pod
		want        bool
	}{
		{"no filter", "", pod("n1", structs.PodPhaseFailed, 10*time.Hour), true},
		{"node by name", "node=n1", pod("n1", structs.PodPhaseRunning, 0), true},
		{"node by ID prefix", "node=abcd-n", pod("n1", structs.PodPhaseRunning, 0), true},
		{"another node", "node=n2", pod("n1", structs.PodPhaseRunning, 0), false},
		{"phase", "status=running", pod("n1", structs.PodPhaseRunning, 0), true},
		{"another phase", "status=failed", pod("n1", structs.PodPhaseRunning, 0), false},
		{"recent hides old terminal pods", "recent", pod("n1", structs.PodPhaseFailed, 31*time.Minute), false},
		{"recent keeps new terminal pods", "recent", pod("n1", structs.PodPhaseFailed, 29*time.Minute), true},
		{"recent keeps old running pods", "recent", pod("n1", structs.PodPhaseRunning, 10*time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parsePodFilter(httptest.NewRequest("GET", "/v1/pods?"+tc.query, nil), time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.match(tc.pod); got != tc.want {
				t.Fatalf("match %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := parsePodFilter(httptest.NewRequest("GET", "/v1/pods?status=dead", nil), time.Hour, now); err == nil {
		t.Fatal("status dead accepted")
	}
}
