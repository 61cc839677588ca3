package structs

// The event stream's types are API only, never in the Raft log: they are
// kept out of event.go, whose types scripts/codecgen.sh codes.

// Event is one change in the event stream: an object the FSM wrote or
// deleted, or a controller's decision (a JobEvent).
type Event struct {
	// Topic is one of the Topic constants.
	Topic string
	// Type says what happened: "JobRegistered", "PodUpdated",
	// "NodeDeleted", ... or a JobEvent's own Type.
	Type string
	// Key is the object's ID (a JobEvent's: its job's ID).
	Key       string
	Namespace string `json:",omitempty"`
	// FilterKeys are other IDs a key filter also matches: a pod's job and
	// node, a deployment's job.
	FilterKeys []string `json:",omitempty"`
	// Index is the Raft index of the entry that made the change.
	Index uint64
	// Payload is the object as written (as it was, when deleted) or the
	// JobEvent.
	Payload any
}

// EventBatch is one line of the event stream: every event of one Raft
// index, delivered together. A line without an index is a heartbeat.
type EventBatch struct {
	Index  uint64   `json:",omitempty"`
	Events []*Event `json:",omitempty"`
}

// EventStreamError is the line that ends an event stream in error once
// the response has begun: the error body and its status code (410 when
// the reader fell behind the server's buffer).
type EventStreamError struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}
