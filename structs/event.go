package structs

// Event topics: the kinds of objects whose changes the event stream
// carries, and the controllers whose decisions it records.
const (
	TopicJob        = "Job"
	TopicPod        = "Pod"
	TopicDeployment = "Deployment"
	TopicNode       = "Node"
	TopicAutoscaler = "Autoscaler"
)

// JobEvent is a decision of a leader controller about a job (a rollout
// step, a failure, a revert, an autoscaler's verdict). It goes through Raft
// so every server streams it and `job status` shows the last ones after a
// failover.
type JobEvent struct {
	Namespace string
	JobID     string
	Group     string `json:",omitempty"`
	// Topic is TopicDeployment or TopicAutoscaler.
	Topic string
	// Type names the decision ("RolloutStep", "ScaleOut", ...).
	Type    string
	Message string
	// Details are the decision's inputs (current, desired, usage, ...).
	Details map[string]string `json:",omitempty"`
	// Time is chosen by the proposer (unix nanos); Index is the Raft
	// index the FSM applied it at.
	Time  int64
	Index uint64
}

// EventsRecordRequest records controllers' decisions.
type EventsRecordRequest struct {
	Events []*JobEvent
}

// JobEventsKept is how many decisions each job keeps in the state store.
const JobEventsKept = 10

// JobEvents are the last JobEventsKept decisions about one job, oldest
// first: one row per job in the state store.
type JobEvents struct {
	Namespace string
	JobID     string
	Events    []*JobEvent
}
