package server

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/server/fsm"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil/poll"
)

// fakeRaft applies each entry to a real FSM at the next index, once the
// test releases it, and records the entries.
type fakeRaft struct {
	fsm *fsm.FSM

	mu      sync.Mutex
	entries [][]byte
	release []chan error
}

type fakeFuture struct {
	done  chan struct{}
	err   error
	resp  any
	index uint64
}

func (f *fakeFuture) Error() error  { <-f.done; return f.err }
func (f *fakeFuture) Response() any { <-f.done; return f.resp }
func (f *fakeFuture) Index() uint64 { <-f.done; return f.index }

func (r *fakeRaft) Apply(cmd []byte, _ time.Duration) raft.ApplyFuture {
	r.mu.Lock()
	r.entries = append(r.entries, cmd)
	index := uint64(len(r.entries))
	release := make(chan error, 1)
	r.release = append(r.release, release)
	r.mu.Unlock()
	fut := &fakeFuture{done: make(chan struct{}), index: index}
	go func() {
		if fut.err = <-release; fut.err == nil {
			fut.resp = r.fsm.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: cmd})
		}
		close(fut.done)
	}()
	return fut
}

func (r *fakeRaft) entryCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// releaseEntry lets entry i (from 0) apply, or fail with err.
func (r *fakeRaft) releaseEntry(i int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release[i] <- err
}

// startProposer runs a proposer with one entry in flight over a fakeRaft
// with a real FSM, until stop closes (or the test ends, when stop is nil).
func startProposer(t *testing.T, batching bool, stop chan struct{}) (*proposer, *fakeRaft) {
	t.Helper()
	f, err := fsm.New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if stop == nil {
		stop = make(chan struct{})
		t.Cleanup(func() { close(stop) })
	}
	r := &fakeRaft{fsm: f}
	p := newProposer(r, time.Second, 1, stop)
	p.setBatching(batching)
	go p.run()
	go p.complete()
	return p, r
}

func registerCmd(t *testing.T, name string, enforce bool) []byte {
	t.Helper()
	j := &structs.Job{
		ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: structs.DefaultNamespace},
		Type:       structs.JobTypeService,
		Groups: []*structs.TaskGroup{{Name: "g", Count: 1, Tasks: []*structs.Task{{Name: "t", Driver: "exec",
			Config: &structs.TaskConfig{Command: "/bin/true"}, Resources: &structs.Resources{CPU: 100, MemoryMB: 32}}}}},
	}
	objs, err := jobspecs.Translate(j)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := structs.Encode(structs.JobRegisterRequestType,
		&structs.JobRegisterRequest{Job: j, Objects: objs, EnforceIndex: enforce, JobModifyIndex: 999})
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// TestProposerBatchesWhileEntriesInFlight: with its one slot taken, the
// proposer gathers the commands that arrive into the next entry, and
// answers each with its own response.
func TestProposerBatchesWhileEntriesInFlight(t *testing.T) {
	p, r := startProposer(t, true, nil)

	results := make([]chan proposalResult, 6)
	propose := func(i int, cmd []byte) {
		results[i] = make(chan proposalResult, 1)
		go func() { results[i] <- p.propose(cmd) }()
	}
	propose(0, registerCmd(t, "job-0", false))
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 1, nil })
	// Entry 0 is in flight: these queue, one of them doomed to conflict.
	for i := 1; i < 6; i++ {
		propose(i, registerCmd(t, fmt.Sprintf("job-%d", i), i == 3))
	}
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return len(p.queue) == 5, nil })
	if n := r.entryCount(); n != 1 {
		t.Fatalf("%d entries proposed while the only slot was taken, want 1", n)
	}
	r.releaseEntry(0, nil)
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 2, nil })
	r.releaseEntry(1, nil)

	if got := structs.MessageType(r.entries[0][0]); got != structs.JobRegisterRequestType {
		t.Errorf("entry 0 has type %s, want a plain register", got)
	}
	cmds, err := structs.SplitBatch(r.entries[1][1:])
	if structs.MessageType(r.entries[1][0]) != structs.BatchRequestType || err != nil || len(cmds) != 5 {
		t.Fatalf("entry 1: type %d, %d commands (%v), want a batch of 5", r.entries[1][0], len(cmds), err)
	}
	for i, ch := range results {
		res := receive(t, ch)
		wantIndex := uint64(1)
		if i > 0 {
			wantIndex = 2
		}
		if i == 3 {
			if err, ok := res.resp.(error); !ok || !errors.Is(err, structs.ErrIndexConflict) {
				t.Errorf("command 3: %#v, want its own index conflict", res.resp)
			}
			continue
		}
		reg, ok := res.resp.(*structs.JobRegisterResponse)
		if res.err != nil || !ok || reg.Index != wantIndex || res.index != wantIndex {
			t.Errorf("command %d: %+v, want a register response at index %d", i, res, wantIndex)
		}
	}
}

// TestProposerFailedEntryFailsItsCommands: when raft fails an entry (say,
// leadership lost), every command in it gets the error.
func TestProposerFailedEntryFailsItsCommands(t *testing.T) {
	p, r := startProposer(t, true, nil)

	first := make(chan proposalResult, 1)
	go func() { first <- p.propose(registerCmd(t, "first", false)) }()
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 1, nil })
	rest := make(chan proposalResult, 3)
	for i := range 3 {
		go func() { rest <- p.propose(registerCmd(t, fmt.Sprintf("rest-%d", i), false)) }()
	}
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return len(p.queue) == 3, nil })
	r.releaseEntry(0, nil)
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 2, nil })
	r.releaseEntry(1, raft.ErrLeadershipLost)

	if res := receive(t, first); res.err != nil {
		t.Fatalf("first command: %v", res.err)
	}
	for range 3 {
		if res := receive(t, rest); !errors.Is(res.err, raft.ErrLeadershipLost) {
			t.Errorf("command of the failed entry: %+v, want leadership lost", res)
		}
	}
	if j, _ := r.fsm.State().JobByID(nil, "default", "rest-0"); j != nil {
		t.Errorf("a command of the failed entry was applied")
	}
}

// TestProposerWithoutBatching: until every server applies batch entries,
// each command is an entry of its own, however many wait.
func TestProposerWithoutBatching(t *testing.T) {
	p, r := startProposer(t, false, nil)
	results := make(chan proposalResult, 4)
	for i := range 4 {
		go func() { results <- p.propose(registerCmd(t, fmt.Sprintf("job-%d", i), false)) }()
	}
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 1 && len(p.queue) == 3, nil })
	for i := range 4 {
		r.releaseEntry(i, nil)
		if i < 3 {
			poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == i+2, nil })
		}
	}
	for range 4 {
		if res := receive(t, results); res.err != nil {
			t.Fatal(res.err)
		}
	}
	for i, e := range r.entries {
		if structs.MessageType(e[0]) != structs.JobRegisterRequestType {
			t.Errorf("entry %d has type %s, want a plain register", i, structs.MessageType(e[0]))
		}
	}
}

// TestProposerBoundsEntries: a command that would take an entry past
// maxBatchBytes starts the next one instead.
func TestProposerBoundsEntries(t *testing.T) {
	p, r := startProposer(t, true, nil)
	results := make(chan proposalResult, 4)
	big := func() []byte { // not a valid command: the FSM answers an error
		cmd := make([]byte, maxBatchBytes/2+1)
		cmd[0] = uint8(structs.NodeStatusRequestType)
		return cmd
	}
	go func() { results <- p.propose(registerCmd(t, "first", false)) }()
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 1, nil })
	for range 3 {
		go func() { results <- p.propose(big()) }()
	}
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return len(p.queue) == 3, nil })
	for i := range 4 {
		r.releaseEntry(i, nil)
		if i < 3 {
			poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == i+2, nil })
		}
	}
	for range 4 {
		receive(t, results)
	}
	for i, e := range r.entries[1:] {
		if structs.MessageType(e[0]) == structs.BatchRequestType || len(e) != maxBatchBytes/2+1 {
			t.Errorf("entry %d: type %s, %d bytes; want one command of %d bytes", i+1, structs.MessageType(e[0]), len(e), maxBatchBytes/2+1)
		}
	}
}

// TestProposerStops: proposals waiting when the server shuts down return
// an error rather than hang.
func TestProposerStops(t *testing.T) {
	stop := make(chan struct{})
	p, r := startProposer(t, false, stop)
	done := make(chan proposalResult, 1)
	go func() { done <- p.propose([]byte{uint8(structs.NodeStatusRequestType)}) }()
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return r.entryCount() == 1, nil })
	close(stop)
	if res := receive(t, done); !errors.Is(res.err, raft.ErrRaftShutdown) {
		t.Fatalf("result %+v, want raft shutdown", res)
	}
}

// receive returns a proposal's result, failing the test when none comes
// within 5 s.
func receive(t *testing.T, ch <-chan proposalResult) proposalResult {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(5 * time.Second):
		t.Fatal("no result within 5 s")
		return proposalResult{}
	}
}

// TestProposerStopsWithAnEntryRaftNeverAnswers: raft does not answer an
// entry still queued for it when it shuts down; the proposer's complete
// loop returns anyway, answering the entry's commands with
// ErrRaftShutdown, so the server's shutdown does not wait forever.
func TestProposerStopsWithAnEntryRaftNeverAnswers(t *testing.T) {
	f, err := fsm.New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	r := &fakeRaft{fsm: f}
	p := newProposer(r, time.Second, 1, stop)
	go p.run()
	completed := make(chan struct{})
	go func() {
		p.complete()
		close(completed)
	}()
	pr := &proposal{cmd: registerCmd(t, "web", false), done: make(chan proposalResult, 1)}
	p.queue <- pr
	poll.WaitFor(t, 5*time.Second, func() (bool, error) {
		return r.entryCount() == 1, fmt.Errorf("%d entries proposed, want 1", r.entryCount())
	})
	close(stop) // the entry is never released
	select {
	case <-completed:
	case <-time.After(5 * time.Second):
		t.Fatal("complete still waits on an entry raft never answers after the stop")
	}
	if got := <-pr.done; !errors.Is(got.err, raft.ErrRaftShutdown) {
		t.Fatalf("proposal = %+v, want ErrRaftShutdown", got)
	}
}
