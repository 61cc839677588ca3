package structs

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The HTTP layer maps them to status codes with errors.Is,
// never by matching message text.
var (
	ErrNotFound      = errors.New("not found")
	ErrIndexConflict = errors.New("index conflict")
	ErrNoLeader      = errors.New("no cluster leader")
	ErrPermission    = errors.New("permission denied")
	ErrBadRequest    = errors.New("bad request")
	// ErrConflict is a request that the object's current state does not
	// allow (exec in a task that is not running).
	ErrConflict = errors.New("conflict")
	// ErrTimeout is work on the caller's behalf that did not finish in the
	// time it was given (an exec'd command).
	ErrTimeout = errors.New("timed out")
	// ErrUnavailable is an agent the request must reach (the client node
	// that runs a pod) that does not answer.
	ErrUnavailable = errors.New("unavailable")
	// ErrGone is history that is no longer kept (an event stream resumed
	// from an index older than the server's event buffer).
	ErrGone = errors.New("gone")
)

// ValidationError is bad user input, located by a field path (as in
// `job "web" group "frontend" task "nginx": resources.memory`) and, when it
// comes from a file, by its position (file:line:col).
type ValidationError struct {
	// Path locates the block, as `job "web" group "frontend" task "nginx"`.
	Path string
	// Field is the field within that block, as "resources.memory".
	Field string
	// Pos is file:line:col when known.
	Pos string
	Msg string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Pos != "" {
		b.WriteString(e.Pos)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(" ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldPath is the full path of the field, for the API's "field" member.
func (e *ValidationError) FieldPath() string {
	switch {
	case e.Path == "":
		return e.Field
	case e.Field == "":
		return e.Path
	}
	return e.Path + " " + e.Field
}

// Is makes every ValidationError match ErrBadRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrBadRequest }

// ValidationErrors collects every problem found in one input.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Is makes ValidationErrors match ErrBadRequest.
func (es ValidationErrors) Is(target error) bool { return target == ErrBadRequest }

// ErrOrNil returns nil when there is no error, so a nil slice never becomes a
// non-nil error interface.
func (es ValidationErrors) ErrOrNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// First returns the first validation error inside err, if any.
func FirstValidationError(err error) *ValidationError {
	var one *ValidationError
	if errors.As(err, &one) {
		return one
	}
	var many ValidationErrors
	if errors.As(err, &many) && len(many) > 0 {
		return many[0]
	}
	return nil
}

// NewBadRequest returns an error matching ErrBadRequest with a message.
func NewBadRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// NewConflict returns an error matching ErrConflict with a message.
func NewConflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// NotFoundError names what was not found.
func NotFoundError(kind, id string) error {
	return fmt.Errorf("%s %q %w", kind, id, ErrNotFound)
}
