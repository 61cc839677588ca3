// Package stream is each server's event broker: a bounded, in-memory
// buffer of the changes its FSM applied, by Raft index, that subscribers
// read from any index still held. Every server applies the same log, so a
// reader may resume on any server from the last index it saw; an index
// the buffer no longer holds is an error (structs.ErrGone), never a
// silent gap.
package stream

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/mk-orchestrator/mk/structs"
)

// DefaultBufferSize is how many events a broker holds by default.
const DefaultBufferSize = 8192

// maxBatchesPerRead bounds the batches one Next returns, so a reader far
// behind writes and flushes in pieces.
const maxBatchesPerRead = 256

// Broker holds the latest events, whole batches of them, oldest first.
// Publish never blocks on readers: a reader keeps only its own cursor, and
// one that falls behind the buffer learns it on its next read. All
// methods are safe for concurrent use; Publish and Reset are called by
// the FSM only.
type Broker struct {
	mu    sync.Mutex
	limit int
	// batches are oldest first, with increasing indexes; held counts
	// their events.
	batches []*structs.EventBatch
	held    int
	// floor is the highest index whose events may be gone: every event
	// after it is held (or still to come).
	floor uint64
	// last is the newest index published (or the floor after a reset).
	last uint64
	// wake is closed and replaced on every publish and reset.
	wake chan struct{}
}

// NewBroker returns an empty broker holding at most limit events (but
// always the newest batch whole); limit <= 0 means DefaultBufferSize.
func NewBroker(limit int) *Broker {
	if limit <= 0 {
		limit = DefaultBufferSize
	}
	return &Broker{limit: limit, wake: make(chan struct{})}
}

// Publish appends batches, in increasing index order, and wakes the
// readers. A batch whose index is not past the last one is dropped: the
// FSM applies each index once.
func (b *Broker) Publish(batches []*structs.EventBatch) {
	if len(batches) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, batch := range batches {
		if batch.Index <= b.last || len(batch.Events) == 0 {
			continue
		}
		b.batches = append(b.batches, batch)
		b.held += len(batch.Events)
		b.last = batch.Index
	}
	for b.held > b.limit && len(b.batches) > 1 {
		b.floor = b.batches[0].Index
		b.held -= len(b.batches[0].Events)
		b.batches[0] = nil // let the evicted batch go before the array does
		b.batches = b.batches[1:]
	}
	close(b.wake)
	b.wake = make(chan struct{})
}

// Reset drops every event: the FSM restored a snapshot at index, so the
// changes before it will never be published here. Readers at an older
// index get structs.ErrGone.
func (b *Broker) Reset(index uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches, b.held = nil, 0
	b.floor, b.last = index, index
	close(b.wake)
	b.wake = make(chan struct{})
}

// LastIndex is the newest index published: where a reader that wants only
// new events starts.
func (b *Broker) LastIndex() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// Oldest is the index after which every event is held.
func (b *Broker) Oldest() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.floor
}

// Subscribe starts a reader of the events after index that pass filter
// (nil: all).
func (b *Broker) Subscribe(index uint64, filter *Filter) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.goneErr(index); err != nil {
		return nil, err
	}
	return &Subscription{broker: b, cursor: index, filter: filter}, nil
}

// goneErr says whether the events after index are still all held.
func (b *Broker) goneErr(index uint64) error {
	if index >= b.floor {
		return nil
	}
	return fmt.Errorf("%w: index %d is older than this server's event buffer, which holds the events after index %d; resume from %d or later",
		structs.ErrGone, index, b.floor, b.floor)
}

// after returns the held batches after index (at most max), or the
// channel that a publish closes when there are none.
func (b *Broker) after(index uint64, max int) ([]*structs.EventBatch, <-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.goneErr(index); err != nil {
		return nil, nil, err
	}
	i := sort.Search(len(b.batches), func(i int) bool { return b.batches[i].Index > index })
	if i == len(b.batches) {
		return nil, b.wake, nil
	}
	// A copy: eviction clears the slots of b.batches under the lock.
	return slices.Clone(b.batches[i:min(i+max, len(b.batches))]), nil, nil
}

// Subscription is one reader's position in a broker. It is not safe for
// concurrent use.
type Subscription struct {
	broker *Broker
	cursor uint64
	filter *Filter
}

// Index is the last index the reader has been given (or passed over, its
// events filtered out): where it resumes.
func (s *Subscription) Index() uint64 { return s.cursor }

// Next blocks until there are events after the cursor that pass the
// filter and returns them, whole batches in index order. It fails with
// structs.ErrGone once the buffer no longer holds the events after the
// cursor, and with ctx's error when ctx ends first.
func (s *Subscription) Next(ctx context.Context) ([]*structs.EventBatch, error) {
	for {
		batches, wake, err := s.broker.after(s.cursor, maxBatchesPerRead)
		if err != nil {
			return nil, err
		}
		if wake == nil {
			s.cursor = batches[len(batches)-1].Index
			if out := s.filter.batches(batches); len(out) > 0 {
				return out, nil
			}
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
