package fsm

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/structs"
)

// batchLog builds a batch entry at index of the commands of logs.
func batchLog(index uint64, logs ...*raft.Log) *raft.Log {
	var entry []byte
	for _, l := range logs {
		entry = structs.AppendBatch(entry, l.Data)
	}
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: entry}
}

// TestApplyBatchEntry: the commands of a batch entry apply in order at the
// entry's index, each answered as it would be alone; one that fails fails
// alone.
func TestApplyBatchEntry(t *testing.T) {
	f := newFSM(t)
	resp := f.Apply(batchLog(10,
		registerLog(t, 0, job("a", 1)),
		logOf(t, 0, structs.JobDeregisterRequestType, &structs.JobDeregisterRequest{Namespace: "default", JobID: "nope"}),
		registerLog(t, 0, job("b", 2)),
		// The stop sees the register before it in the same entry.
		logOf(t, 0, structs.JobDeregisterRequestType, &structs.JobDeregisterRequest{Namespace: "default", JobID: "a"}),
		logOf(t, 0, structs.JobRegisterRequestType, &structs.JobRegisterRequest{Job: job("c", 1), EnforceIndex: true, JobModifyIndex: 3}),
		batchLog(0, registerLog(t, 0, job("nested", 1))),
	))
	resps, ok := resp.(BatchResponse)
	if !ok || len(resps) != 6 {
		t.Fatalf("response %#v, want a BatchResponse of 6", resp)
	}
	if r, ok := resps[0].(*structs.JobRegisterResponse); !ok || r.Index != 10 {
		t.Errorf("register a: %#v, want a register response at index 10", resps[0])
	}
	if err, ok := resps[1].(error); !ok || !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("stop of a missing job: %#v, want not found", resps[1])
	}
	if r, ok := resps[2].(*structs.JobRegisterResponse); !ok || r.Index != 10 {
		t.Errorf("register b: %#v, want a register response at index 10", resps[2])
	}
	if idx, ok := resps[3].(uint64); !ok || idx != 10 {
		t.Errorf("stop of a: %#v, want index 10", resps[3])
	}
	if err, ok := resps[4].(error); !ok || !errors.Is(err, structs.ErrIndexConflict) {
		t.Errorf("stale register of c: %#v, want an index conflict", resps[4])
	}
	if err, ok := resps[5].(error); !ok || !errors.Is(err, structs.ErrBadRequest) {
		t.Errorf("nested batch: %#v, want a bad request", resps[5])
	}

	st := f.State()
	a, _ := st.JobByID(nil, "default", "a")
	if a == nil || !a.Stop || a.Version != 1 || a.ModifyIndex != 10 {
		t.Errorf("job a: %+v, want stopped at version 1, index 10", a)
	}
	if b, _ := st.JobByID(nil, "default", "b"); b == nil || b.Stop || b.ModifyIndex != 10 {
		t.Errorf("job b: %+v, want running at index 10", b)
	}
	for _, id := range []string{"c", "nested"} {
		if j, _ := st.JobByID(nil, "default", id); j != nil {
			t.Errorf("job %s was applied: %+v", id, j)
		}
	}
	if idx := st.LatestIndex(); idx != 10 {
		t.Errorf("latest index %d, want 10", idx)
	}
}

func TestApplyMalformedBatchEntry(t *testing.T) {
	f := newFSM(t)
	entry := structs.AppendBatch(nil, registerLog(t, 0, job("a", 1)).Data)
	resp := f.Apply(&raft.Log{Index: 4, Type: raft.LogCommand, Data: entry[:len(entry)-1]})
	if err, ok := resp.(error); !ok || !errors.Is(err, structs.ErrBadRequest) {
		t.Fatalf("response %#v, want a bad request", resp)
	}
	if j, _ := f.State().JobByID(nil, "default", "a"); j != nil {
		t.Fatalf("a command of a malformed entry was applied: %+v", j)
	}
}
