package command

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestFormatDryRun(t *testing.T) {
	cases := []struct {
		name string
		plan *structs.JobPlan
		want string
	}{
		{name: "no dry run", plan: &structs.JobPlan{}, want: ""},
		{name: "all placed", plan: &structs.JobPlan{Placements: map[string]*structs.PlanGroupSummary{
			"web": {Place: 2, Keep: 1}, "api": {Replace: 3, Stop: 1},
		}}, want: `Scheduler dry-run:
- group "api": 0 to place, 3 to replace, 1 to stop, 0 kept
- group "web": 2 to place, 0 to replace, 0 to stop, 1 kept`},
		{name: "failures", plan: &structs.JobPlan{
			Placements: map[string]*structs.PlanGroupSummary{"web": {Place: 2}, "db": {Place: 1}},
			FailedPlacements: map[string]*structs.PlanGroupFailure{
				"web": {Failed: 2, Reasons: []string{`no node has driver "docker"`}},
				"db":  {Failed: 1, Reasons: []string{"cpu exhausted on 1 node", `memory exhausted on node "a"`}},
			}}, want: `Scheduler dry-run:
- group "db": 1 to place, 0 to replace, 0 to stop, 0 kept
- group "web": 2 to place, 0 to replace, 0 to stop, 0 kept
WARNING: Failed to place all pods
  group "db" (failed to place 1 pod):
    * cpu exhausted on 1 node
    * memory exhausted on node "a"
  group "web" (failed to place 2 pods):
    * no node has driver "docker"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatDryRun(tc.plan); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
