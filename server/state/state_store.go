// Package state is mk's state store: go-memdb tables with indexes, watch
// sets for blocking queries, and a per-table Raft index. Only the FSM
// writes; everything else reads.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// StateStore holds the cluster state. Reads may run concurrently with the
// single writer (the FSM). Objects returned by reads are shared with the
// store: callers must Copy before changing them.
type StateStore struct {
	db *memdb.MemDB
	// abandonCh is closed when a snapshot restore replaces this store, so
	// queries blocked on it wake up and read the new one.
	abandonCh chan struct{}
}

// NewStateStore returns an empty store.
func NewStateStore() (*StateStore, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("create state store: %w", err)
	}
	return &StateStore{db: db, abandonCh: make(chan struct{})}, nil
}

// AbandonCh is closed when the store has been replaced.
func (s *StateStore) AbandonCh() <-chan struct{} { return s.abandonCh }

// Abandon marks the store as replaced and wakes every blocked query.
func (s *StateStore) Abandon() { close(s.abandonCh) }

// Index returns the Raft index of the last write to a table (0 if none).
func (s *StateStore) Index(table string) uint64 {
	txn := s.db.Txn(false)
	raw, err := txn.First(TableIndex, IndexID, table)
	if err != nil || raw == nil {
		return 0
	}
	return raw.(*IndexEntry).Value
}

// LatestIndex is the highest index over all tables.
func (s *StateStore) LatestIndex() uint64 {
	txn := s.db.Txn(false)
	it, err := txn.Get(TableIndex, IndexID)
	if err != nil {
		return 0
	}
	var max uint64
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if v := raw.(*IndexEntry).Value; v > max {
			max = v
		}
	}
	return max
}

// ErrWriteFailed marks an error that happened after a write transaction
// had begun changing tables; the transaction must be aborted. Every other
// error a write returns is found before anything changes, so the other
// commands of a batch may still commit.
var ErrWriteFailed = errors.New("state write failed")

// WriteTxn is a write transaction that may carry several commands, each at
// its own Raft index (the FSM applies a committed batch in one
// transaction). Every table a command writes gets that command's index at
// commit, so no write path can forget to bump it.
type WriteTxn struct {
	txn     *memdb.Txn
	index   uint64
	touched map[string]uint64
	labels  labelSets
	// changes are the writes the event stream carries (changes.go).
	changes []Change
}

// WriteTxn starts a write transaction. Only the FSM writes, one
// transaction at a time.
func (s *StateStore) WriteTxn() *WriteTxn {
	return &WriteTxn{txn: s.db.Txn(true), touched: map[string]uint64{}}
}

// at sets the Raft index of the command being applied.
func (t *WriteTxn) at(index uint64) *WriteTxn {
	t.index = index
	return t
}

func (t *WriteTxn) upsert(table string, obj any) error {
	t.touched[table] = t.index
	if err := t.txn.Insert(table, obj); err != nil {
		return fmt.Errorf("%w: insert into %s: %v", ErrWriteFailed, table, err)
	}
	t.track(table, obj, false)
	return nil
}

func (t *WriteTxn) remove(table string, obj any) error {
	t.touched[table] = t.index
	if err := t.txn.Delete(table, obj); err != nil {
		return fmt.Errorf("%w: delete from %s: %v", ErrWriteFailed, table, err)
	}
	t.track(table, obj, true)
	return nil
}

// Commit records the index of every touched table and makes the writes
// visible, waking the watchers of what changed.
func (t *WriteTxn) Commit() error {
	for table, index := range t.touched {
		if err := t.txn.Insert(TableIndex, &IndexEntry{Key: table, Value: index}); err != nil {
			t.txn.Abort()
			return fmt.Errorf("%w: update index of %s: %v", ErrWriteFailed, table, err)
		}
	}
	t.txn.Commit()
	return nil
}

// Abort drops every write of the transaction.
func (t *WriteTxn) Abort() { t.txn.Abort() }

// QueryFn runs one read against a store, adding what it read to ws, and
// returns the result with the index it reflects.
type QueryFn func(ws memdb.WatchSet, s *StateStore) (any, uint64, error)

// BlockingQuery runs fn until the index it returns passes minIndex, the
// deadline passes or ctx ends; it then returns the latest result. current
// returns the store to read: it changes when a snapshot is restored.
func BlockingQuery(ctx context.Context, current func() *StateStore, minIndex uint64, wait time.Duration, fn QueryFn) (any, uint64, error) {
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	for {
		s := current()
		ws := memdb.NewWatchSet()
		ws.Add(s.AbandonCh())
		res, index, err := fn(ws, s.view())
		// A table never written has index 0, and a query at index 0 does
		// not block: a client watching it would ask again and again (a
		// fresh cluster's clients sent their servers 13,000 pod queries a
		// second). Index 1 is Raft's first entry, never a table's write.
		index = max(index, 1)
		if err != nil || minIndex == 0 || wait <= 0 || index > minIndex {
			return res, index, err
		}
		// WatchCtx returns an error when ctx ends before any watched
		// channel fires; return the latest (unchanged) result then.
		if ws.WatchCtx(ctx) != nil {
			return res, index, nil
		}
	}
}

// view returns a read-only store over a point-in-time snapshot of s, so
// that a query's data and the table index it returns come from the same
// state. Read from s, a write committing between the two reads could
// show in the index but not in the data: a client would then block on
// an index it has already passed, missing that write (an e2e test caught
// a client waiting out its 5-minute watch for pods placed just then).
// Watches taken on the view fire on writes to s: they share its nodes.
func (s *StateStore) view() *StateStore {
	return &StateStore{db: s.db.Snapshot(), abandonCh: s.abandonCh}
}

// View returns a read-only store over a point-in-time snapshot of s
// (O(1)): what a reader that makes several queries, such as the
// scheduler's dry run of a job plan, reads to see one state.
func (s *StateStore) View() *StateStore { return s.view() }

// TableWatch returns a channel closed on the next write to a table.
func (s *StateStore) TableWatch(table string) <-chan struct{} {
	it, err := s.db.Txn(false).Get(table, IndexID)
	if err != nil {
		return nil
	}
	return it.WatchCh()
}
