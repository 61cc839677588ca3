package state

import (
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
