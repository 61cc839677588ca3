package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// Error is an error answered by the API: mk's JSON error body and the
// status code.
type Error struct {
	StatusCode int
	Message    string `json:"error"`
	Field      string `json:"field"`
	Pos        string `json:"pos"`
	RetryAfter string
}

func (e *Error) Error() string { return e.Message }

// UnreachableError says that no agent answered at Address: the connection
// could not be made (refused, no such host, timed out).
type UnreachableError struct {
	Address string
	// Reason is the short cause: "connection refused", "no such host".
	Reason string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no mk agent at %s (%s)", e.Address, e.Reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// NotAgentError says that Address answered, but not as an mk agent: an
// error status without mk's JSON error body. It wraps the *Error, so a
// caller checking the status code with errors.As still finds it.
type NotAgentError struct {
	Address string
	Status  int
	API     *Error
}

func (e *NotAgentError) Error() string {
	return fmt.Sprintf("%s is not an mk agent (HTTP %d without mk's error body)", e.Address, e.Status)
}

func (e *NotAgentError) Unwrap() error { return e.API }

// unreachable wraps a failed dial as an *UnreachableError; other errors
// (a cancelled context, a connection lost mid-answer) come back as they
// are.
func (c *Client) unreachable(err error) error {
	var op *net.OpError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		!errors.As(err, &op) || op.Op != "dial" {
		return err
	}
	return &UnreachableError{Address: c.address, Reason: dialReason(op), Err: err}
}

// dialReason names why a dial failed in a few words.
func dialReason(op *net.OpError) string {
	var errno syscall.Errno
	var dns *net.DNSError
	switch {
	case errors.As(op.Err, &errno):
		return errno.Error()
	case errors.As(op.Err, &dns):
		return "no such host " + dns.Name
	case op.Timeout():
		return "timed out"
	}
	return op.Err.Error()
}

// statusText is "404 Not Found" for a response, as net/http writes it.
func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// IsNotFound reports whether err is the API's 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}
