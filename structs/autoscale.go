package structs

// Who asked for a JobScaleRequest (its Source).
const (
	ScaleSourceUser       = "user"
	ScaleSourceAutoscaler = "autoscaler"
)

// Autoscaler decisions (JobEvent.Type under TopicAutoscaler).
const (
	EventScaleOut = "ScaleOut"
	EventScaleIn  = "ScaleIn"
	EventNoChange = "NoChange"
)

// EventScale is a count set by hand (`mk job scale`), under
// TopicDeployment.
const EventScale = "Scale"

// JobScaleBody is the body of PUT/POST /v1/job/{id}/scale: the new count
// of one service group.
type JobScaleBody struct {
	Group   string
	Count   *int
	Message string `json:",omitempty"`
}

// JobScaleResponse answers a scale: the write's index and the count the
// group had before it.
type JobScaleResponse struct {
	Index    uint64
	Previous int
}

// PodUsage is one sample of a pod's resource use as its client measured
// it: what the leader's autoscaler computes utilization from. It is never
// written to the Raft log: it only matters for a few seconds, and a new
// leader waits for fresh reports instead.
type PodUsage struct {
	Namespace string
	PodID     string
	// Time is when the sample was taken (unix nanos, the client's clock).
	Time int64
	// CPUMHz is the CPU the pod's running tasks used, in MHz, averaged
	// over the time since the client's previous sample of the pod (the
	// first sample measures a short interval of its own).
	CPUMHz float64
	// MemoryBytes is the pod's tasks' resident anonymous memory.
	MemoryBytes uint64
	// Tasks is how many of the pod's tasks ran and were measured.
	Tasks int
}

// PodUsageBody is the body of PUT /v1/node/{id}/pods/usage.
type PodUsageBody struct {
	// Interval is how often the client samples ("5s"): the leader takes
	// a sample older than a few intervals as missing.
	Interval string
	Usage    []*PodUsage
}
