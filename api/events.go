package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// EventStreamOptions select the events of a stream.
type EventStreamOptions struct {
	// Topics are "Topic" or "Topic:key" (structs.TopicJob, ...); none:
	// every topic.
	Topics []string
	// Keys pass only events of these objects (IDs; a pod's job and node
	// IDs match too).
	Keys []string
	// Index streams the events after it; with Latest, only the events
	// to come.
	Index  uint64
	Latest bool
	// IdleTimeout is how long a stream may stay silent (servers send a
	// heartbeat every 10s) before it counts as dead; default 35s.
	IdleTimeout time.Duration
}

// Event is one event of the stream, its payload left encoded: decode it
// with Job, Pod, Node, Deployment or JobEvent according to Topic.
type Event struct {
	Topic      string
	Type       string
	Key        string
	Namespace  string
	FilterKeys []string
	Index      uint64
	Payload    json.RawMessage
}

// EventBatch is the events of one Raft index; Raw is the line as the
// server sent it.
type EventBatch struct {
	Index  uint64
	Events []*Event
	Raw    json.RawMessage `json:"-"`
}

// decodePayload decodes an event's payload into a new T.
func decodePayload[T any](e *Event) (*T, error) {
	out := new(T)
	if err := json.Unmarshal(e.Payload, out); err != nil {
		return nil, fmt.Errorf("decode %s event payload at index %d: %w", e.Topic, e.Index, err)
	}
	return out, nil
}

// Job decodes the payload of a Job event.
func (e *Event) Job() (*structs.Job, error) { return decodePayload[structs.Job](e) }

// Pod decodes the payload of a Pod event.
func (e *Event) Pod() (*structs.Pod, error) { return decodePayload[structs.Pod](e) }

// Node decodes the payload of a Node event.
func (e *Event) Node() (*structs.Node, error) { return decodePayload[structs.Node](e) }

// Deployment decodes the payload of a DeploymentCreated/Updated/Deleted
// event.
func (e *Event) Deployment() (*structs.Deployment, error) {
	return decodePayload[structs.Deployment](e)
}

// JobEvent decodes the payload of a controller's decision (the events of
// topics Deployment and Autoscaler whose type is not Deployment*).
func (e *Event) JobEvent() (*structs.JobEvent, error) { return decodePayload[structs.JobEvent](e) }

// EventStream is one open connection of GET /v1/event/stream.
type EventStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	idle *time.Timer
	// idleTimeout is how long a silent stream lives.
	idleTimeout time.Duration
	cancel      context.CancelFunc
	// StartIndex is the index the server streams after: the one asked
	// for, or its latest when Latest was asked.
	StartIndex uint64
}

// EventStream opens the event stream of the agent. An index the server's
// buffer no longer holds is an *Error with status 410.
func (c *Client) EventStream(ctx context.Context, opts EventStreamOptions) (*EventStream, error) {
	v := url.Values{"topic": opts.Topics, "key": opts.Keys}
	if !opts.Latest {
		v.Set("index", strconv.FormatUint(opts.Index, 10))
	}
	if c.namespace != "" {
		v.Set("namespace", c.namespace)
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.address+"/v1/event/stream?"+v.Encode(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, c.unreachable(err)
	}
	if resp.StatusCode >= 300 {
		defer cancel()
		defer resp.Body.Close()
		return nil, c.decodeError(resp)
	}
	idle := opts.IdleTimeout
	if idle <= 0 {
		idle = 35 * time.Second
	}
	s := &EventStream{body: resp.Body, r: bufio.NewReaderSize(resp.Body, 64<<10), cancel: cancel,
		idle: time.AfterFunc(idle, cancel), idleTimeout: idle}
	s.StartIndex, _ = strconv.ParseUint(resp.Header.Get("X-Mk-Index"), 10, 64)
	go func() { <-ctx.Done(); s.idle.Stop() }()
	return s, nil
}

// Next returns the next batch of events, skipping heartbeats. It fails
// with io.EOF or a read error when the connection ends or stays silent
// past the idle timeout, and with an *Error when the server ends the
// stream with one (410: the reader fell behind its buffer).
func (s *EventStream) Next() (*EventBatch, error) {
	for {
		line, err := s.r.ReadBytes('\n')
		if err != nil {
			if len(line) == 0 || !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, io.ErrUnexpectedEOF
		}
		s.idle.Reset(s.idleTimeout)
		var l struct {
			EventBatch
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("decode event stream line: %w", err)
		}
		if l.Error != "" {
			return nil, &Error{StatusCode: l.Code, Message: l.Error}
		}
		if l.Index == 0 {
			continue // a heartbeat
		}
		l.EventBatch.Raw = line[:len(line)-1]
		return &l.EventBatch, nil
	}
}

// Close ends the stream.
func (s *EventStream) Close() error {
	s.cancel()
	return s.body.Close()
}

// JobEvents reads a job's last controller decisions, oldest first.
func (c *Client) JobEvents(id string, q *QueryOptions) ([]*structs.JobEvent, *QueryMeta, error) {
	var out []*structs.JobEvent
	meta, err := c.get("/v1/job/"+url.PathEscape(id)+"/events", q, &out)
	return out, meta, err
}
