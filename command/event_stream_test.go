package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func TestFormatEvent(t *testing.T) {
	payload := func(v any) json.RawMessage {
		buf, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return buf
	}
	tests := []struct {
		name string
		e    *api.Event
		want string
	}{
		{"job", &api.Event{Index: 7, Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default",
			Payload: payload(&structs.Job{Version: 2, Status: "running"})},
			"7        Job        JobRegistered        web                                  version 2, running"},
		{"pod in another namespace", &api.Event{Index: 8, Topic: "Pod", Type: "PodUpdated", Key: "p1", Namespace: "dev",
			Payload: payload(&structs.Pod{ObjectMeta: structs.ObjectMeta{Name: "web.g[0]"}, Phase: "running", DesiredStatus: "run", NodeName: "n1"})},
			"8        Pod        PodUpdated           dev/p1                               web.g[0]: running, desired run, on n1"},
		{"node", &api.Event{Index: 9, Topic: "Node", Type: "NodeUpdated", Key: "n1",
			Payload: payload(&structs.Node{ObjectMeta: structs.ObjectMeta{Name: "n1"}, Status: "ready", Eligibility: "eligible", Drain: true})},
			"9        Node       NodeUpdated          n1                                   n1: ready, eligible, draining"},
		{"deployment", &api.Event{Index: 10, Topic: "Deployment", Type: "DeploymentUpdated", Key: "web-g",
			Payload: payload(&structs.Deployment{JobVersion: 3, Replicas: 4, Status: "running"})},
			"10       Deployment DeploymentUpdated    web-g                                version 3, 4 replicas, running"},
		{"decision", &api.Event{Index: 11, Topic: "Autoscaler", Type: "ScaleOut", Key: "web",
			Payload: payload(&structs.JobEvent{Group: "g", Message: "cpu 91% > 70%: 2 -> 3"})},
			"11       Autoscaler ScaleOut             web                                  g cpu 91% > 70%: 2 -> 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatEvent(tt.e); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestFormatJobEvents(t *testing.T) {
	events := []*structs.JobEvent{
		{Topic: "Deployment", Type: "RolloutStep", Group: "g", Message: "1 of 3 replaced", Index: 5, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()},
		{Topic: "Autoscaler", Type: "ScaleOut", Message: "a|b", Index: 9, Time: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC).UnixNano()},
	}
	want := strings.Join([]string{
		"Time                  Index  Topic       Group  Type         Message",
		"2026-01-02T03:05:00Z  9      Autoscaler  -      ScaleOut     a/b",
		"2026-01-02T03:04:05Z  5      Deployment  g      RolloutStep  1 of 3 replaced",
	}, "\n")
	if got := formatJobEvents(events); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestEventStreamFollowsAcrossRestart follows a server's stream, restarts
// the server on the same address, and sees the stream go on after the
// last index printed: each register once.
func TestEventStreamFollowsAcrossRestart(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	client, err := api.NewClient(api.Config{Address: c.Nodes[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	register := func(name string) uint64 {
		t.Helper()
		var resp *structs.JobRegisterResponse
		testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
			job := &structs.Job{ObjectMeta: structs.ObjectMeta{Name: name}, Groups: []*structs.TaskGroup{{Name: "g", Count: 1,
				Tasks: []*structs.Task{{Name: "t", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"},
					Resources: &structs.Resources{CPU: 100, MemoryMB: 32}}}}}}
			resp, err = client.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job})
			return err == nil, err
		})
		return resp.Index
	}
	first := register("one")

	ui := cli.NewMockUi()
	cmd := &EventStreamCommand{Meta: Meta{Ui: ui, json: false}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cmd.follow(ctx, []*api.Client{client}, api.EventStreamOptions{Topics: []string{"Job"}, Latest: true, IdleTimeout: 5 * time.Second})
	}()
	// Without -index, only what comes next: register until one is
	// printed, the stream being open by then.
	for i := 0; ; i++ {
		next := register(fmt.Sprintf("two-%d", i))
		err := testutil.Wait(time.Second, func() (bool, error) { return waitPrinted(ui, next), nil })
		if err == nil {
			break
		}
		if i == 20 {
			t.Fatalf("no register printed: %s", ui.ErrorWriter.String())
		}
	}
	if waitPrinted(ui, first) {
		t.Fatalf("a register from before the stream (index %d) was printed:\n%s", first, ui.OutputWriter.String())
	}

	c.Kill(0)
	c.Restart(0)
	third := register("three")
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		return waitPrinted(ui, third), fmt.Errorf("index %d not printed yet:\n%s", third, ui.OutputWriter.String())
	})
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, ui.ErrorWriter.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(ui.OutputWriter.String()), "\n") {
		if seen[line] {
			t.Fatalf("printed twice: %s", line)
		}
		seen[line] = true
	}
	if !strings.Contains(ui.ErrorWriter.String(), "lost") {
		t.Fatalf("no reconnect said on stderr: %q", ui.ErrorWriter.String())
	}
}

// waitPrinted says whether the line of a Job event at index is out.
func waitPrinted(ui *cli.MockUi, index uint64) bool {
	return strings.Contains(ui.OutputWriter.String(), fmt.Sprintf("%-8d Job        JobRegistered", index))
}
