package command

import (
	"slices"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodsLeft(t *testing.T) {
	pod := func(name string, desired string, phase string) *structs.Pod {
		return &structs.Pod{ObjectMeta: structs.ObjectMeta{Name: name}, DesiredStatus: desired, Phase: phase}
	}
	pods := []*structs.Pod{
		pod("web[1]", structs.PodDesiredRun, structs.PodPhaseRunning),
		pod("web[0]", structs.PodDesiredStop, structs.PodPhaseRunning),
		pod("web[2]", structs.PodDesiredRun, structs.PodPhasePending),
		pod("old[0]", structs.PodDesiredStop, structs.PodPhaseSucceeded),
		pod("old[1]", structs.PodDesiredStop, structs.PodPhaseFailed),
		pod("lost[0]", structs.PodDesiredStop, structs.PodPhaseLost),
	}
	want := []string{"web[0] (stopping)", "web[1] (running)", "web[2] (pending)"}
	if got := podsLeft(pods); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := podsLeft(pods[3:]); len(got) != 0 {
		t.Fatalf("finished pods left: %q", got)
	}
	if plural(1, "pod") != "1 pod" || plural(3, "pod") != "3 pods" {
		t.Fatal("plural")
	}
}
