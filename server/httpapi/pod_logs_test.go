package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestPodLogsTail: ?tail=N answers the last N lines of a task's log, from
// the pod's own agent and forwarded; a bad N is 400.
func TestPodLogsTail(t *testing.T) {
	a := startPodAgents(t)
	job := twoTaskJob("tail", 2)
	for _, task := range job.Groups[0].Tasks {
		task.Config = &structs.TaskConfig{Command: "/bin/sh", Args: []string{"-c", "seq 1 25; sleep 300"}}
	}
	pods := runningPods(t, a.srv, job)
	for _, p := range pods {
		for via, cl := range map[string]*api.Client{"server": a.srv, "edge": a.edge} {
			t.Run(p.NodeName+" via "+via, func(t *testing.T) {
				logs := func(tail int) (string, error) {
					var buf bytes.Buffer
					err := cl.PodLogsWith(context.Background(), p.ID[:8], api.LogOptions{Task: "main", Tail: tail}, &buf)
					return buf.String(), err
				}
				testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
					got, err := logs(0)
					return strings.HasSuffix(got, "25\n"), fmt.Errorf("log %q, %v", got, err)
				})
				for tail, want := range map[int]string{3: "23\n24\n25\n", 1: "25\n", 100: seq(1, 25)} {
					if got, err := logs(tail); err != nil || got != want {
						t.Errorf("tail=%d: %q, %v; want %q", tail, got, err, want)
					}
				}
				_, err := cl.Raw(context.Background(), "GET", "/v1/pod/"+p.ID+"/logs", &api.QueryOptions{Params: map[string]string{"task": "main", "tail": "x"}}, nil, &bytes.Buffer{})
				if statusOf(err) != 400 {
					t.Errorf("tail=x: %v, want 400", err)
				}
			})
		}
	}
}

func seq(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}
