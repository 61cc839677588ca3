package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// followRetry bounds the pause between two connections of FollowEvents.
const (
	followRetryMin = 100 * time.Millisecond
	followRetryMax = 2 * time.Second
)

// FollowEvents streams events to handle, whole batches in index order,
// each index once: when a connection breaks it connects again, to the
// next of clients (servers of one cluster: they apply the same log),
// resuming after the last index it handled. It returns nil when ctx ends,
// handle's error, the error a server answered that a retry would not
// change (a 410 *Error when the events after the last index are no
// longer held, a 400 for bad options), or an *UnreachableError when no
// address answered the first time round. reconnect, when set, is told of
// each lost connection before the next try.
func FollowEvents(ctx context.Context, clients []*Client, opts EventStreamOptions,
	handle func(*EventBatch) error, reconnect func(addr string, err error)) error {
	if len(clients) == 0 {
		return errors.New("follow events: no agent to connect to")
	}
	wait := followRetryMin
	connected := false
	for i := 0; ; i = (i + 1) % len(clients) {
		got, fatal, err := followOnce(ctx, clients[i], &opts, handle)
		if ctx.Err() != nil {
			return nil
		}
		var unreachable *UnreachableError
		connected = connected || !errors.As(err, &unreachable)
		// No agent at any address, from the start: a wrong address, not
		// a lost connection.
		if fatal || !connected && i == len(clients)-1 {
			return err
		}
		if got {
			wait = followRetryMin
		}
		if reconnect != nil {
			reconnect(clients[i].Address(), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, followRetryMax)
	}
}

// followOnce streams from one agent until the connection ends, moving
// opts to the last index handled. got says whether any event came, fatal
// whether err is one to return rather than retry: the handler's, or an
// answer a retry would not change.
func followOnce(ctx context.Context, c *Client, opts *EventStreamOptions, handle func(*EventBatch) error) (got, fatal bool, err error) {
	s, err := c.EventStream(ctx, *opts)
	if err != nil {
		return false, permanent(err), err
	}
	defer s.Close()
	if opts.Latest {
		opts.Index, opts.Latest = s.StartIndex, false
	}
	for {
		b, err := s.Next()
		if err != nil {
			return got, permanent(err), err
		}
		if b.Index <= opts.Index {
			continue // never twice, whatever a server sends
		}
		got = true
		if err := handle(b); err != nil {
			return got, true, err
		}
		opts.Index = b.Index
	}
}

// permanent says whether a retry would get the same answer: a 4xx (a
// 410 included) or a reply that is not mk's.
func permanent(err error) bool {
	var apiErr *Error
	var notAgent *NotAgentError
	return errors.As(err, &notAgent) || errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500
}

// IsGone reports whether err is the API's 410 answer: the events asked
// for are no longer held.
func IsGone(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusGone
}
