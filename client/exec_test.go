package client

import (
	"errors"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestPodTaskName(t *testing.T) {
	pod := func(tasks ...string) *structs.Pod {
		p := &structs.Pod{ObjectMeta: structs.ObjectMeta{Name: "web.app[0]"}, Template: &structs.TaskGroup{}}
		for _, name := range tasks {
			p.Template.Tasks = append(p.Template.Tasks, &structs.Task{Name: name})
		}
		return p
	}
	tests := []struct {
		name    string
		pod     *structs.Pod
		task    string
		want    string
		wantErr error
	}{
		{"the only task by default", pod("main"), "", "main", nil},
		{"a named task", pod("main", "side"), "side", "side", nil},
		{"no name in a pod of two", pod("main", "side"), "", "", structs.ErrBadRequest},
		{"an unknown task", pod("main"), "nope", "", structs.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podTaskName(tc.pod, tc.task)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("podTaskName(%q) = %q, %v; want %q, %v", tc.task, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
