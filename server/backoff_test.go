package server

import (
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

func TestReplacementBackoff(t *testing.T) {
	b := replacementBackoff{base: time.Second, max: 4 * time.Second, window: time.Minute}
	now := int64(time.Hour)
	at := func(ago time.Duration, phase string) *structs.Pod {
		return &structs.Pod{Phase: phase, DesiredStatus: structs.PodDesiredRun, ModifyTime: now - int64(ago)}
	}
	failed := func(ago ...time.Duration) []*structs.Pod {
		var out []*structs.Pod
		for _, a := range ago {
			out = append(out, at(a, structs.PodPhaseFailed))
		}
		return out
	}
	tests := []struct {
		name string
		pods []*structs.Pod
		want time.Duration
	}{
		{"no failures", []*structs.Pod{at(0, structs.PodPhaseRunning)}, 0},
		{"first failure is replaced at once", failed(0), 0},
		{"second failure waits the base", failed(0, 10*time.Second), time.Second},
		{"the wait runs from the latest failure", failed(300*time.Millisecond, 10*time.Second), 700 * time.Millisecond},
		{"third doubles", failed(0, 1, 2), 2 * time.Second},
		{"capped", failed(0, 1, 2, 3, 4, 5, 6), 4 * time.Second},
		{"over once the wait passed", failed(5*time.Second, 6*time.Second), 0},
		{"failures outside the window do not count", failed(0, 2*time.Minute), 0},
		{"lost pods do not count", append(failed(0), at(time.Second, structs.PodPhaseLost)), 0},
		{"failures replaced since still count", []*structs.Pod{at(0, structs.PodPhaseFailed), {Phase: structs.PodPhaseFailed,
			DesiredStatus: structs.PodDesiredStop, DesiredReason: reasonReplaced, ModifyTime: now - int64(10*time.Second)}}, time.Second},
		{"pods the servers stopped do not count", append(failed(0), &structs.Pod{Phase: structs.PodPhaseFailed,
			DesiredStatus: structs.PodDesiredStop, ModifyTime: now}), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.wait(tc.pods, now); got != tc.want {
				t.Fatalf("wait %s, want %s", got, tc.want)
			}
		})
	}
	if got := (replacementBackoff{}).wait(failed(0, 1, 2), now); got != 0 {
		t.Fatalf("disabled backoff waits %s", got)
	}
}
