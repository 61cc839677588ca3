package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/server/state"
	"github.com/mk-orchestrator/mk/server/stream"
	"github.com/mk-orchestrator/mk/structs"
)

// defaultEventHeartbeat is how long an event stream stays quiet before it
// sends a heartbeat line, so readers notice a dead connection.
const defaultEventHeartbeat = 10 * time.Second

func (h *HTTPServer) eventRoutes() {
	// Any server streams: they all apply the same log.
	h.handle("GET /v1/event/stream", routeLocal, h.eventStream)
	h.handle("GET /v1/job/{id}/events", routeRead, h.jobEvents)
}

// eventStream is GET /v1/event/stream?topic=T[:key]&key=K&namespace=NS&index=N:
// newline-delimited JSON, one structs.EventBatch per Raft index after N
// (without index: from now on), a heartbeat line {} when quiet, and a
// structs.EventStreamError line if the reader falls behind the buffer.
// An index the buffer no longer holds is a 410 before anything streams.
func (h *HTTPServer) eventStream(w http.ResponseWriter, r *http.Request) (any, error) {
	broker := h.srv.Events()
	sub, err := subscribe(broker, r)
	if err != nil {
		return nil, err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set(HeaderIndex, strconv.FormatUint(sub.Index(), 10))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	heartbeat := h.eventHeartbeat
	if heartbeat <= 0 {
		heartbeat = defaultEventHeartbeat
	}
	for {
		ctx, cancel := context.WithTimeout(r.Context(), heartbeat)
		batches, err := sub.Next(ctx)
		cancel()
		if r.Context().Err() != nil {
			return nil, errHandled
		}
		if err = writeEventLines(enc, batches, err); err != nil {
			return nil, errHandled
		}
		if rc.Flush() != nil {
			return nil, errHandled
		}
	}
}

// subscribe reads the stream's parameters and starts a subscription.
func subscribe(broker *stream.Broker, r *http.Request) (*stream.Subscription, error) {
	q := r.URL.Query()
	topics, err := stream.ParseTopics(q["topic"])
	if err != nil {
		return nil, err
	}
	filter := &stream.Filter{Topics: topics, Keys: q["key"], Namespace: q.Get("namespace")}
	if filter.Namespace == "*" {
		filter.Namespace = ""
	}
	index := broker.LastIndex()
	if s := q.Get("index"); s != "" {
		if index, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, &structs.ValidationError{Field: "index", Msg: fmt.Sprintf("must be a non-negative integer, got %q", s)}
		}
	}
	return broker.Subscribe(index, filter)
}

// writeEventLines writes what one Next returned: its batches, a heartbeat
// when it timed out, or the error line that ends the stream (returned).
func writeEventLines(enc *json.Encoder, batches []*structs.EventBatch, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return enc.Encode(struct{}{})
	case err != nil:
		_ = enc.Encode(&structs.EventStreamError{Error: err.Error(), Code: statusFor(err)})
		return err
	}
	for _, b := range batches {
		if err := enc.Encode(b); err != nil {
			// Encode writes nothing when marshalling fails: say why the
			// stream ends (useless, but harmless, on a dead connection).
			_ = enc.Encode(&structs.EventStreamError{Error: fmt.Sprintf("encode events of index %d: %v", b.Index, err), Code: http.StatusInternalServerError})
			return err
		}
	}
	return nil
}

// jobEvents is GET /v1/job/{id}/events: the job's last controller
// decisions, oldest first.
func (h *HTTPServer) jobEvents(w http.ResponseWriter, r *http.Request) (any, error) {
	ns, id := namespace(r), r.PathValue("id")
	return h.blockingRead(w, r, tableRead(state.TableJobEvents, func(ws memdb.WatchSet, st *state.StateStore) (any, error) {
		events, err := st.JobEvents(ws, ns, id)
		if events == nil {
			events = []*structs.JobEvent{}
		}
		return events, err
	}))
}
