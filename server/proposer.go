package server

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/server/fsm"
	"github.com/mk-orchestrator/mk/structs"
)

// The proposer groups the commands a leader proposes into batch entries
// (structs/batch.go). Raft's leader loop already stores and replicates in
// one go the entries that queued while it wrote the last ones, but every
// entry still costs each server a record in the log store, its encoding
// there and in the AppendEntries RPC, and a trip through the FSM's
// channel; under a burst of registers those per-entry costs were a fifth
// of the cluster's CPU. The proposer keeps at most entriesInFlight entries
// between raft.Apply and this server's FSM: commands that arrive meanwhile
// wait, and go out together in the next entry. A lone command (an idle
// cluster) is proposed at once, as a plain entry.
const (
	// entriesInFlight: 1 made larger entries than 2, and in 9 interleaved
	// pairs of the register benchmark at 64 writers 7 % more registers/s
	// at a lower p99; at 1 writer 2 answered 0.2 ms sooner (an entry of
	// pods in flight does not hold a register back from raft).
	entriesInFlight = 1
	// maxBatchBytes and maxBatchCommands bound one batch entry; a command
	// larger than maxBatchBytes goes alone. An entry of 1,000 pods
	// (maxPodsPerEntry) is about 380 KB: with batch entries no larger,
	// an AppendEntries RPC of MaxAppendEntries entries is bounded as it
	// was without them.
	maxBatchBytes    = 384 << 10
	maxBatchCommands = 512
)

// proposal is one command waiting for its entry to be applied.
type proposal struct {
	cmd  []byte
	done chan proposalResult // buffered: the proposer never blocks on it
}

type proposalResult struct {
	resp  any
	index uint64
	err   error
}

// proposedEntry is an entry handed to raft and the proposals it carries.
type proposedEntry struct {
	future    raft.ApplyFuture
	proposals []*proposal
}

// raftApplier is the part of *raft.Raft the proposer uses.
type raftApplier interface {
	Apply(cmd []byte, timeout time.Duration) raft.ApplyFuture
}

type proposer struct {
	raft raftApplier
	// batching: every server applies batch entries (the leader's Serf
	// view, leader.go); until then each command is an entry of its own.
	batching atomic.Bool
	timeout  time.Duration
	queue    chan *proposal
	// slots holds a token per entry in flight.
	slots   chan struct{}
	applied chan proposedEntry
	stopCh  <-chan struct{}
	// carried is a command taken from the queue that did not fit the last
	// entry: it starts the next. Only run uses it.
	carried *proposal
}

func newProposer(r raftApplier, timeout time.Duration, inFlight int, stopCh <-chan struct{}) *proposer {
	return &proposer{
		raft:    r,
		timeout: timeout,
		queue:   make(chan *proposal, 4096),
		slots:   make(chan struct{}, inFlight),
		applied: make(chan proposedEntry, inFlight),
		stopCh:  stopCh,
	}
}

// propose hands cmd (an encoded command) to raft in the next entry and
// waits until this server's FSM applied it.
func (p *proposer) propose(cmd []byte) proposalResult {
	pr := &proposal{cmd: cmd, done: make(chan proposalResult, 1)}
	select {
	case p.queue <- pr:
	case <-p.stopCh:
		return proposalResult{err: raft.ErrRaftShutdown}
	}
	select {
	case r := <-pr.done:
		return r
	case <-p.stopCh:
		return proposalResult{err: raft.ErrRaftShutdown}
	}
}

// run gathers the queued commands into entries and proposes them, one
// entry per free slot. It takes the slot before the commands, so those
// that arrive while the slots are taken make the next entry.
func (p *proposer) run() {
	for {
		select {
		case p.slots <- struct{}{}:
		case <-p.stopCh:
			return
		}
		first := p.carried
		p.carried = nil
		if first == nil {
			select {
			case first = <-p.queue:
			case <-p.stopCh:
				return
			}
		}
		batch := p.gather(first)
		entryCommands.Observe(float64(len(batch)))
		entry := first.cmd
		if len(batch) > 1 {
			size := 1
			for _, pr := range batch {
				size += binary.MaxVarintLen32 + len(pr.cmd)
			}
			entry = append(make([]byte, 0, size), uint8(structs.BatchRequestType))
			for _, pr := range batch {
				entry = structs.AppendBatch(entry, pr.cmd)
			}
		}
		p.applied <- proposedEntry{future: p.raft.Apply(entry, p.timeout), proposals: batch}
	}
}

func (p *proposer) setBatching(on bool) {
	p.batching.Store(on)
	if on {
		batchEntriesOn.Set(1)
	} else {
		batchEntriesOn.Set(0)
	}
}

// gather takes the commands queued behind first, up to the bounds of one
// entry.
func (p *proposer) gather(first *proposal) []*proposal {
	batch := []*proposal{first}
	if !p.batching.Load() {
		return batch
	}
	size := len(first.cmd)
	for len(batch) < maxBatchCommands && size < maxBatchBytes {
		select {
		case pr := <-p.queue:
			if size+len(pr.cmd) > maxBatchBytes {
				p.carried = pr
				return batch
			}
			batch = append(batch, pr)
			size += len(pr.cmd)
		default:
			return batch
		}
	}
	return batch
}

// wait is future's error, or stopped when the server stops first:
// hashicorp/raft never answers an entry still queued for its leader loop
// when it shuts down (its log futures have no ShutdownCh), so waiting on
// the future alone held Server.Shutdown forever.
func (p *proposer) wait(future raft.ApplyFuture) (stopped bool, err error) {
	done := make(chan error, 1)
	go func() { done <- future.Error() }()
	select {
	case err := <-done:
		return false, err
	case <-p.stopCh:
		return true, nil
	}
}

// complete waits for each entry in the order proposed, frees its slot and
// answers its proposals.
func (p *proposer) complete() {
	for {
		var e proposedEntry
		select {
		case e = <-p.applied:
		case <-p.stopCh:
			return
		}
		stopped, err := p.wait(e.future)
		if stopped {
			for _, pr := range e.proposals {
				pr.done <- proposalResult{err: raft.ErrRaftShutdown}
			}
			return
		}
		<-p.slots
		if err != nil {
			for _, pr := range e.proposals {
				pr.done <- proposalResult{err: err}
			}
			continue
		}
		index, resp := e.future.Index(), e.future.Response()
		resps, isBatch := resp.(fsm.BatchResponse)
		for i, pr := range e.proposals {
			r := proposalResult{resp: resp, index: index}
			// A batch entry that failed as a whole answers every command
			// with its error.
			if len(e.proposals) > 1 && isBatch && i < len(resps) {
				r.resp = resps[i]
			}
			pr.done <- r
		}
	}
}
