package fsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/structs"
)

// streamed reads every event f's broker holds after index, as
// "index:Topic:Type:Key" strings.
func streamed(t *testing.T, f *FSM, after uint64) []string {
	t.Helper()
	sub, err := f.Events().Subscribe(after, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for sub.Index() < f.Events().LastIndex() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		batches, err := sub.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			for _, e := range b.Events {
				if e.Index != b.Index {
					t.Fatalf("event %s/%s at %d in the batch of %d", e.Topic, e.Key, e.Index, b.Index)
				}
				out = append(out, fmt.Sprintf("%d:%s:%s:%s", b.Index, e.Topic, e.Type, e.Key))
			}
		}
	}
	return out
}

// TestApplyPublishesEvents applies a batch of entries in one transaction
// and checks each change is streamed at its own entry's index.
func TestApplyPublishesEvents(t *testing.T) {
	f := newFSM(t)
	node := &structs.Node{ObjectMeta: structs.ObjectMeta{ID: "n1", Name: "n1"}, Status: structs.NodeStatusReady}
	pod := &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: "p1", Name: "web.g[0]", Namespace: "default"},
		JobID: "web", Group: "g", OwnerKind: structs.OwnerReplicaSet, OwnerID: "web-g", DesiredStatus: structs.PodDesiredRun}
	logs := []*raft.Log{
		registerLog(t, 10, job("web", 1)),
		logOf(t, 11, structs.NodeRegisterRequestType, &structs.NodeRegisterRequest{Node: node}),
		logOf(t, 12, structs.PodsUpsertRequestType, &structs.PodsUpsertRequest{Pods: []*structs.Pod{pod}}),
		// A command that fails changes nothing and streams nothing.
		logOf(t, 13, structs.JobRegisterRequestType, &structs.JobRegisterRequest{Job: job("x", 1), EnforceIndex: true, JobModifyIndex: 99}),
		logOf(t, 14, structs.EventsRecordRequestType, &structs.EventsRecordRequest{Events: []*structs.JobEvent{
			{JobID: "web", Group: "g", Topic: structs.TopicDeployment, Type: "RolloutStep", Message: "1 of 1 replaced", Time: 1},
		}}),
		logOf(t, 15, structs.JobDeregisterRequestType, &structs.JobDeregisterRequest{Namespace: "default", JobID: "web", Purge: true}),
	}
	for i, r := range f.ApplyBatch(logs) {
		if err, ok := r.(error); ok && i != 3 {
			t.Fatalf("entry %d: %v", logs[i].Index, err)
		}
	}
	got := strings.Join(streamed(t, f, 0), "\n")
	want := strings.Join([]string{
		"10:Job:JobRegistered:web",
		"10:Deployment:DeploymentCreated:web-g",
		"11:Node:NodeRegistered:n1",
		"12:Pod:PodCreated:p1",
		"14:Deployment:RolloutStep:web",
		"15:Deployment:DeploymentDeleted:web-g",
		"15:Job:JobPurged:web",
	}, "\n")
	if got != want {
		t.Fatalf("streamed:\n%s\nwant:\n%s", got, want)
	}
}

// TestRestoreResetsEvents restores a snapshot: streams from before it
// cannot go on without a gap, so they are refused.
func TestRestoreResetsEvents(t *testing.T) {
	f := newFSM(t)
	for i, name := range []string{"a", "b", "c"} {
		f.Apply(registerLog(t, uint64(i+1), job(name, 1)))
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM(t)
	g.Apply(registerLog(t, 1, job("a", 1)))
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Events().Subscribe(1, nil); !errors.Is(err, structs.ErrGone) {
		t.Fatalf("subscribe at 1 after a restore at 3: %v, want ErrGone", err)
	}
	g.Apply(registerLog(t, 4, job("d", 1)))
	if got := strings.Join(streamed(t, g, 3), " "); !strings.HasPrefix(got, "4:Job:JobRegistered:d") {
		t.Fatalf("after the restore: %s", got)
	}
}
