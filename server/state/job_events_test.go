package state

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

func TestRecordJobEventsKeepsTheNewest(t *testing.T) {
	st, err := NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= structs.JobEventsKept+3; i++ {
		txn := st.WriteTxn()
		evs := []*structs.JobEvent{{JobID: "web", Type: fmt.Sprint(i)}, {JobID: "api", Type: fmt.Sprint(i)}}
		if err := txn.RecordJobEvents(uint64(i), evs); err != nil {
			t.Fatal(err)
		}
		if err := txn.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.JobEvents(nil, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != structs.JobEventsKept {
		t.Fatalf("kept %d events, want %d", len(got), structs.JobEventsKept)
	}
	if first, last := got[0], got[len(got)-1]; first.Type != "4" || last.Type != "13" || last.Index != 13 || last.Namespace != "default" {
		t.Fatalf("kept %+v .. %+v, want events 4..13 with their index", first, last)
	}
}

// A format 3 snapshot has no count on its deployments: restored, each
// takes its current replica set's.
func TestDeploymentCountOfFormat3Snapshot(t *testing.T) {
	old := newStore(t)
	if _, err := old.UpsertJob(10, registerReq(t, testJob("web", 3))); err != nil {
		t.Fatal(err)
	}
	objs, err := old.ObjectsByJob(nil, "default", "web")
	if err != nil || len(objs.Deployments) != 1 {
		t.Fatalf("objects %+v: %v", objs, err)
	}
	d := structs.Copy(objs.Deployments[0])
	d.Replicas = 0 // as format 3 stored it
	commit(t, old, func(txn *WriteTxn) error { return txn.at(11).upsert(TableDeployments, d) })
	var buf bytes.Buffer
	if err := old.Snapshot().persist(&buf, 3); err != nil {
		t.Fatal(err)
	}
	restored, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	objs, err = restored.ObjectsByJob(nil, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if got := objs.Deployments[0].Replicas; got != 3 {
		t.Fatalf("restored deployment count %d, want its replica set's 3", got)
	}
}
