// Package fsm is mk's Raft finite state machine: it decodes each committed
// log entry and applies it to the state store. Apply is a plain switch over
// typed commands and never reads the clock or randomness, so every server
// reaches the same state from the same log.
package fsm

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/server/stream"
	"github.com/mk-orchestrator/mk/structs"
)

// applyDuration is the time the FSM takes per command type.
var applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "mk_fsm_apply_seconds",
	Help:    "Time to apply one Raft log entry to the state store, by command.",
	Buckets: prometheus.ExponentialBuckets(0.00001, 2.5, 12),
}, []string{"command"})

// Collectors returns the FSM's Prometheus collectors.
func Collectors() []prometheus.Collector { return []prometheus.Collector{applyDuration} }

// FSM implements raft.FSM over a state store.
type FSM struct {
	logger hclog.Logger

	mu    sync.RWMutex // guards state, swapped by Restore
	state *state.StateStore

	// events gets the changes of every committed transaction; it lives
	// as long as the FSM, across restores.
	events *stream.Broker
}

// Option tunes an FSM.
type Option func(*FSM)

// WithEventBuffer sets how many events the FSM's broker holds.
func WithEventBuffer(size int) Option {
	return func(f *FSM) { f.events = stream.NewBroker(size) }
}

// New returns an FSM with an empty state store.
func New(logger hclog.Logger, opts ...Option) (*FSM, error) {
	s, err := state.NewStateStore()
	if err != nil {
		return nil, err
	}
	f := &FSM{logger: logger.Named("fsm"), state: s, events: stream.NewBroker(0)}
	for _, o := range opts {
		o(f)
	}
	return f, nil
}

// Events is the broker of the changes this FSM applied.
func (f *FSM) Events() *stream.Broker { return f.events }

// State returns the current state store. It changes on Restore, so callers
// fetch it per query rather than keeping it.
func (f *FSM) State() *state.StateStore {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state
}

// Apply applies one committed entry in a transaction of its own. The
// returned value is the command's response or an error; raft hands it to
// the proposer's ApplyFuture.
func (f *FSM) Apply(log *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{log})[0]
}

// ApplyBatch applies a batch of committed entries in one state store
// transaction, each command at its own index, so the costs of a write
// transaction (path copying, commit, waking watchers) are paid once per
// batch. Commands that fail do so before writing; should a write itself
// fail, the batch is dropped and applied again entry by entry.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	txn := f.State().WriteTxn()
	resps := make([]any, len(logs))
	for i, log := range logs {
		resps[i] = f.applyLog(txn, log)
		if err, ok := resps[i].(error); ok && errors.Is(err, state.ErrWriteFailed) {
			txn.Abort()
			if len(logs) == 1 {
				return resps
			}
			f.logger.Error("batch write failed; applying entries one by one", "index", log.Index, "error", err)
			return f.applyEach(logs)
		}
	}
	if err := txn.Commit(); err != nil {
		for i := range resps {
			resps[i] = err
		}
		return resps
	}
	f.events.Publish(stream.Batches(txn.Changes()))
	return resps
}

func (f *FSM) applyEach(logs []*raft.Log) []any {
	resps := make([]any, len(logs))
	for i, log := range logs {
		resps[i] = f.ApplyBatch([]*raft.Log{log})[0]
	}
	return resps
}

// applyLog applies one log entry into txn: a command, or a batch of them.
func (f *FSM) applyLog(txn *state.WriteTxn, log *raft.Log) any {
	if log.Type != raft.LogCommand || len(log.Data) == 0 {
		return nil
	}
	msgType := structs.MessageType(log.Data[0])
	if msgType == structs.BatchRequestType {
		return f.applyBatchEntry(txn, log.Data[1:], log.Index)
	}
	return f.applyCommand(txn, msgType, log.Data[1:], log.Index)
}

// BatchResponse is the response to a batch entry: one per command, in
// order, each what the command alone would have returned.
type BatchResponse []any

// applyBatchEntry applies the commands of a batch entry in order, all at
// index. A command that fails before writing fails alone; a failed write
// fails the whole entry, like any entry (see ApplyBatch).
func (f *FSM) applyBatchEntry(txn *state.WriteTxn, buf []byte, index uint64) any {
	cmds, err := structs.SplitBatch(buf)
	if err != nil {
		return fmt.Errorf("%w: at %d: %v", structs.ErrBadRequest, index, err)
	}
	resps := make(BatchResponse, len(cmds))
	for i, cmd := range cmds {
		msgType := structs.MessageType(cmd[0])
		if msgType == structs.BatchRequestType {
			resps[i] = fmt.Errorf("%w: batch entry at %d nests a batch", structs.ErrBadRequest, index)
			continue
		}
		resps[i] = f.applyCommand(txn, msgType, cmd[1:], index)
		if err, ok := resps[i].(error); ok && errors.Is(err, state.ErrWriteFailed) {
			return err
		}
	}
	return resps
}

// applyCommand decodes one command and applies it into txn: a plain switch
// over the typed commands.
func (f *FSM) applyCommand(txn *state.WriteTxn, msgType structs.MessageType, buf []byte, index uint64) any {
	defer func(start time.Time) {
		applyDuration.WithLabelValues(msgType.String()).Observe(time.Since(start).Seconds())
	}(time.Now())

	switch msgType {
	case structs.JobRegisterRequestType:
		return applyJobRegister(txn, buf, index)
	case structs.JobDeregisterRequestType:
		return applyJobDeregister(txn, buf, index)
	case structs.NodeRegisterRequestType:
		return apply(buf, index, func(r *structs.NodeRegisterRequest) error {
			if r.Node == nil || r.Node.ID == "" {
				return fmt.Errorf("%w: node register without a node ID", structs.ErrBadRequest)
			}
			return txn.UpsertNode(index, r.Node, r.PodCIDRPool)
		})
	case structs.NodeStatusRequestType:
		return apply(buf, index, func(r *structs.NodeStatusRequest) error { return txn.UpdateNodeStatus(index, r) })
	case structs.NodeSchedulingRequestType:
		return apply(buf, index, func(r *structs.NodeSchedulingRequest) error { return txn.UpdateNodeScheduling(index, r) })
	case structs.PodsUpsertRequestType:
		return apply(buf, index, func(r *structs.PodsUpsertRequest) error { return txn.UpsertPods(index, r.Pods) })
	case structs.PodStatusRequestType:
		return apply(buf, index, func(r *structs.PodStatusRequest) error { return txn.UpdatePodStatus(index, r) })
	case structs.PodsDeleteRequestType:
		return apply(buf, index, func(r *structs.PodsDeleteRequest) error { return txn.DeletePods(index, r.Pods) })
	case structs.ReplicaSetsUpdateRequestType:
		return apply(buf, index, func(r *structs.ReplicaSetsUpdateRequest) error { return txn.UpdateReplicaSets(index, r.Updates) })
	case structs.NodePurgeRequestType:
		return apply(buf, index, func(r *structs.NodePurgeRequest) error { return txn.PurgeNode(index, r) })
	case structs.EndpointsUpdateRequestType:
		return apply(buf, index, func(r *structs.EndpointsUpdateRequest) error { return txn.UpdateEndpoints(index, r) })
	case structs.DeploymentUpdateRequestType:
		return apply(buf, index, func(r *structs.DeploymentUpdateRequest) error { return txn.UpdateDeployments(index, r.Updates) })
	case structs.JobScaleRequestType:
		return applyJobScale(txn, buf, index)
	case structs.EventsRecordRequestType:
		return apply(buf, index, func(r *structs.EventsRecordRequest) error { return txn.RecordJobEvents(index, r.Events) })
	}
	if msgType&structs.IgnoreUnknownTypeFlag != 0 {
		f.logger.Warn("ignoring unknown command", "type", uint8(msgType), "index", index)
		return nil
	}
	// An unknown command that may not be skipped means this server is older
	// than the log: stopping is the only way not to diverge.
	panic(fmt.Errorf("fsm: unknown command type %d at index %d", uint8(msgType), index))
}

func applyJobRegister(txn *state.WriteTxn, buf []byte, index uint64) any {
	var req structs.JobRegisterRequest
	if err := structs.Decode(buf, &req); err != nil {
		return fmt.Errorf("decode job register at %d: %w", index, err)
	}
	if req.Job == nil {
		return fmt.Errorf("%w: job register without a job", structs.ErrBadRequest)
	}
	resp, err := txn.UpsertJob(index, &req)
	if err != nil {
		return err
	}
	return resp
}

// apply decodes a command of type T and applies it with fn; the response
// is the entry's index or the error.
func apply[T any](buf []byte, index uint64, fn func(*T) error) any {
	req := new(T)
	if err := structs.Decode(buf, req); err != nil {
		return fmt.Errorf("decode %T at %d: %w", req, index, err)
	}
	if err := fn(req); err != nil {
		return err
	}
	return index
}

// applyJobScale sets a service group's count; the response is a
// *structs.JobScaleResponse with the count it had.
func applyJobScale(txn *state.WriteTxn, buf []byte, index uint64) any {
	var req structs.JobScaleRequest
	if err := structs.Decode(buf, &req); err != nil {
		return fmt.Errorf("decode job scale at %d: %w", index, err)
	}
	previous, err := txn.ScaleJob(index, &req)
	if err != nil {
		return err
	}
	return &structs.JobScaleResponse{Index: index, Previous: previous}
}

func applyJobDeregister(txn *state.WriteTxn, buf []byte, index uint64) any {
	var req structs.JobDeregisterRequest
	if err := structs.Decode(buf, &req); err != nil {
		return fmt.Errorf("decode job deregister at %d: %w", index, err)
	}
	if err := txn.DeregisterJob(index, &req); err != nil {
		return err
	}
	return index
}

// Snapshot grabs an immutable view of the store; Persist writes it out
// while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{snap: f.State().Snapshot()}, nil
}

// Restore replaces the whole state with a snapshot and wakes every query
// blocked on the old store.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := state.Restore(rc)
	if err != nil {
		return fmt.Errorf("fsm restore: %w", err)
	}
	f.mu.Lock()
	old := f.state
	f.state = s
	f.mu.Unlock()
	// The changes up to the snapshot are not replayed here: streams from
	// before it cannot go on without a gap.
	f.events.Reset(s.LatestIndex())
	old.Abandon()
	return nil
}

type snapshot struct {
	snap *state.Snapshot
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
