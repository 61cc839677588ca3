package command

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestVersionChanges(t *testing.T) {
	job := func(stop bool, count int) *structs.Job {
		return &structs.Job{Stop: stop, Groups: []*structs.TaskGroup{{Name: "web", Count: count}}}
	}
	tests := []struct {
		name     string
		old, new *structs.Job
		want     string
	}{
		{"none", job(false, 1), job(false, 1), "<none>"},
		{"stop", job(false, 1), job(true, 1), "Stop: false => true"},
		{"start", job(true, 1), job(false, 1), "Stop: true => false"},
		{"start and scale", job(true, 1), job(false, 3), "Stop: true => false,Groups[web].Count"},
		{"scale", job(false, 1), job(false, 3), "Groups[web].Count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionChanges(tc.old, tc.new); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
