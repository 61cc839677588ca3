package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
)

func job(name string, count int) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: structs.DefaultNamespace},
		Type:       structs.JobTypeService,
		Groups: []*structs.TaskGroup{{Name: "g", Count: count, Tasks: []*structs.Task{{
			Name: "t", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 32}}}}},
	}
}

func logOf(t testing.TB, index uint64, mt structs.MessageType, msg any) *raft.Log {
	t.Helper()
	buf, err := structs.Encode(mt, msg)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: buf}
}

func registerLog(t testing.TB, index uint64, j *structs.Job) *raft.Log {
	objs, err := jobspecs.Translate(j)
	if err != nil {
		t.Fatal(err)
	}
	return logOf(t, index, structs.JobRegisterRequestType, &structs.JobRegisterRequest{Job: j, Objects: objs})
}

func nullLogger() hclog.Logger { return hclog.NewNullLogger() }

func newFSM(t *testing.T) *FSM {
	f, err := New(nullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestApplyCommands(t *testing.T) {
	tests := []struct {
		name  string
		log   func(t *testing.T) *raft.Log
		check func(t *testing.T, f *FSM, resp any)
	}{
		{"register", func(t *testing.T) *raft.Log { return registerLog(t, 3, job("web", 1)) },
			func(t *testing.T, f *FSM, resp any) {
				r, ok := resp.(*structs.JobRegisterResponse)
				if !ok || r.Index != 3 {
					t.Fatalf("response %#v", resp)
				}
				if j, _ := f.State().JobByID(nil, "default", "web"); j == nil || j.ModifyIndex != 3 {
					t.Fatalf("job not stored at index 3: %+v", j)
				}
			}},
		{"register conflict is returned, not applied", func(t *testing.T) *raft.Log {
			return logOf(t, 4, structs.JobRegisterRequestType, &structs.JobRegisterRequest{Job: job("x", 1), EnforceIndex: true, JobModifyIndex: 99})
		}, func(t *testing.T, f *FSM, resp any) {
			if err, ok := resp.(error); !ok || !errors.Is(err, structs.ErrIndexConflict) {
				t.Fatalf("response %#v, want index conflict", resp)
			}
			if j, _ := f.State().JobByID(nil, "default", "x"); j != nil {
				t.Fatal("conflicting register was applied")
			}
		}},
		{"deregister missing job", func(t *testing.T) *raft.Log {
			return logOf(t, 5, structs.JobDeregisterRequestType, &structs.JobDeregisterRequest{Namespace: "default", JobID: "nope"})
		}, func(t *testing.T, f *FSM, resp any) {
			if err, ok := resp.(error); !ok || !errors.Is(err, structs.ErrNotFound) {
				t.Fatalf("response %#v, want not found", resp)
			}
		}},
		{"unknown ignorable command", func(t *testing.T) *raft.Log {
			return &raft.Log{Index: 6, Type: raft.LogCommand, Data: []byte{uint8(structs.IgnoreUnknownTypeFlag | 77)}}
		}, func(t *testing.T, f *FSM, resp any) {
			if resp != nil {
				t.Fatalf("response %#v, want nil", resp)
			}
		}},
		{"garbage payload", func(t *testing.T) *raft.Log {
			return &raft.Log{Index: 7, Type: raft.LogCommand, Data: []byte{uint8(structs.JobRegisterRequestType), 0xc1}}
		}, func(t *testing.T, f *FSM, resp any) {
			if _, ok := resp.(error); !ok {
				t.Fatalf("response %#v, want a decode error", resp)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFSM(t)
			tc.check(t, f, f.Apply(tc.log(t)))
		})
	}
}

func TestApplyUnknownCommandPanics(t *testing.T) {
	f := newFSM(t)
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown command that may not be ignored did not stop the FSM")
		}
	}()
	f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{77}})
}

// TestSnapshotRestore: a restored FSM has the same state and the old store
// is abandoned so blocked queries wake.
func TestSnapshotRestore(t *testing.T) {
	f := newFSM(t)
	for i, name := range []string{"a", "b", "c"} {
		f.Apply(registerLog(t, uint64(i+1), job(name, i+1)))
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
	old := g.State()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.AbandonCh():
	default:
		t.Fatal("old store not abandoned")
	}
	jobs, _ := g.State().Jobs(nil, "default")
	if len(jobs) != 3 || g.State().Index("jobs") != 3 {
		t.Fatalf("restored %d jobs at index %d", len(jobs), g.State().Index("jobs"))
	}
}

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { m.cancelled = true; return nil }
func (m *memSink) Close() error  { return nil }
