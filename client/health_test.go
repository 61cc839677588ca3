package client

import (
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodHealth(t *testing.T) {
	now := time.Unix(1000, 0)
	at := func(ago time.Duration) int64 { return now.Add(-ago).UnixNano() }
	tasks := []*structs.Task{{Name: "a"}, {Name: "b"}}
	running := func(ago time.Duration) *structs.TaskState {
		return &structs.TaskState{State: structs.TaskStateRunning, StartedAt: at(ago)}
	}
	cases := []struct {
		name        string
		states      map[string]*structs.TaskState
		healthy     bool
		wantRecheck time.Duration
	}{
		{"all ran long enough", map[string]*structs.TaskState{"a": running(20 * time.Second), "b": running(11 * time.Second)}, true, 0},
		{"one restarted recently", map[string]*structs.TaskState{"a": running(20 * time.Second), "b": running(4 * time.Second)}, false, 6 * time.Second},
		{"one restarting", map[string]*structs.TaskState{"a": running(20 * time.Second), "b": {State: structs.TaskStateRestarting}}, false, 0},
		{"one not reported", map[string]*structs.TaskState{"a": running(20 * time.Second)}, false, 0},
		{"one dead", map[string]*structs.TaskState{"a": running(20 * time.Second), "b": {State: structs.TaskStateDead}}, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			healthy, recheck := podHealth(tasks, tc.states, 10*time.Second, now)
			if healthy != tc.healthy || recheck != tc.wantRecheck {
				t.Fatalf("podHealth = %v, %v; want %v, %v", healthy, recheck, tc.healthy, tc.wantRecheck)
			}
		})
	}
}

func TestMinHealthyTime(t *testing.T) {
	g := &structs.TaskGroup{Update: &structs.UpdateStrategy{MinHealthyTime: "3s"}}
	if got := minHealthyTime(g); got != 3*time.Second {
		t.Fatalf("minHealthyTime = %s", got)
	}
	if got := minHealthyTime(&structs.TaskGroup{}); got != 0 {
		t.Fatalf("no update block: %s", got)
	}
}
