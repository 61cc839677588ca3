package structs

// Pod phases.
const (
	PodPhasePending   = "pending"
	PodPhaseRunning   = "running"
	PodPhaseSucceeded = "succeeded"
	PodPhaseFailed    = "failed"
	PodPhaseLost      = "lost"
)

// Pod desired statuses, set by the servers.
const (
	PodDesiredRun  = "run"
	PodDesiredStop = "stop"
)

// Task states within a pod.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	// TaskStateRestarting is a task that exited and waits out its restart
	// delay (TaskState.NextRestart).
	TaskStateRestarting = "restarting"
	TaskStateDead       = "dead"
)

// Task event types, as the client records them.
const (
	TaskEventStarted    = "Started"
	TaskEventRecovered  = "Recovered"
	TaskEventTerminated = "Terminated"
	TaskEventRestarting = "Restarting"
	TaskEventNotRestart = "Not Restarting"
	TaskEventDriverErr  = "Driver Failure"
	TaskEventKilled     = "Killed"
)

// Owner kinds of a pod.
const (
	OwnerReplicaSet = "ReplicaSet"
	OwnerJob        = "Job"
)

// Pod is one instance of a task group: its tasks share a network
// namespace, an IP and the group's volumes.
type Pod struct {
	ObjectMeta
	JobID      string
	Group      string
	JobVersion uint64
	// OwnerKind and OwnerID name what keeps this pod: the replica set of a
	// service group, or the job for batch and system groups.
	OwnerKind string
	OwnerID   string
	// NodeID is where the pod is placed ("" while unplaced).
	NodeID string `json:",omitempty"`
	// PinnedNodeID is the only node the scheduler may place the pod on (a
	// system group's pod for that node); "" lets it choose.
	PinnedNodeID string `json:",omitempty"`
	NodeName     string `json:",omitempty"`
	// Template is the group the pod runs.
	Template *TaskGroup
	// Resources is the sum of the tasks' resources.
	Resources *Resources
	// Ports are the node ports the scheduler gave the group's network
	// ports (static or dynamic): node resources, like Resources, held
	// while the pod is active.
	Ports []*AllocatedPort `json:",omitempty"`
	// GPUs are the indexes of the node's GPUs the scheduler gave the pod
	// (Resources.GPUs of them, none shared with another active pod): its
	// tasks take them in order, as many as each asks.
	GPUs []int `json:",omitempty"`

	// DesiredStatus is what the servers want; Phase is what the client
	// reports.
	DesiredStatus string
	// DesiredReason says why the servers stopped the pod.
	DesiredReason string `json:",omitempty"`
	Phase         string
	// PendingReason says why an unplaced pod could not be placed.
	PendingReason string                `json:",omitempty"`
	IP            string                `json:",omitempty"`
	TaskStates    map[string]*TaskState `json:",omitempty"`
	// Healthy is the client's verdict: every task runs and has run for
	// the group's min_healthy_time without a restart.
	Healthy bool `json:",omitempty"`
	// Checks are the latest results of the pod's service checks, in the
	// order of the group's services and their checks.
	Checks []*CheckStatus `json:",omitempty"`
	// Draining marks a pod the servers are about to stop: it leaves its
	// services' endpoints first, and is stopped once every node's proxy
	// has dropped it (DrainStartTime: when it began, unix nanos).
	Draining       bool  `json:",omitempty"`
	DrainStartTime int64 `json:",omitempty"`
	// ReplacedBy is the ID of the pod that took this one's place.
	ReplacedBy string `json:",omitempty"`

	// CreateTime and ModifyTime are unix nanos chosen by the proposer.
	CreateTime int64
	ModifyTime int64
	// ClientModifyIndex is the Raft index of the client's last status
	// report.
	ClientModifyIndex uint64 `json:",omitempty"`
}

// AllocatedPort is one port of a pod's network on its node. The scheduler
// chooses it (a static port as asked, a dynamic one from the node's range)
// before proposing; the FSM only stores it.
type AllocatedPort struct {
	// Label is the port's label in the group's network block.
	Label string
	// Value is the port on the node.
	Value int
	// To is the port inside the pod: the port's `to`, or Value without one.
	To int
	// HostIP is the node's address (the host of its Address).
	HostIP string `json:",omitempty"`
}

// TaskState is a task's state as its client reports it.
type TaskState struct {
	State      string
	Failed     bool `json:",omitempty"`
	Restarts   int
	ExitCode   int   `json:",omitempty"`
	Signal     int   `json:",omitempty"`
	PID        int   `json:",omitempty"`
	StartedAt  int64 `json:",omitempty"`
	FinishedAt int64 `json:",omitempty"`
	// NextRestart is when a restarting task starts again (unix nanos).
	NextRestart int64        `json:",omitempty"`
	Events      []*TaskEvent `json:",omitempty"`
	// Details are what the task's driver reports of it beyond its state
	// (gpu-slurm: the Slurm job ID, its state and reason, partition and
	// GPUs), shown by `mk pod status`.
	Details map[string]string `json:",omitempty"`
}

// TaskEvent is one thing that happened to a task.
type TaskEvent struct {
	Type     string
	Message  string `json:",omitempty"`
	Time     int64
	ExitCode int `json:",omitempty"`
	Signal   int `json:",omitempty"`
	// Output is the last line the task wrote to stderr before it exited.
	Output string `json:",omitempty"`
}

// Terminal reports whether the pod's phase is final.
func (p *Pod) Terminal() bool {
	switch p.Phase {
	case PodPhaseSucceeded, PodPhaseFailed, PodPhaseLost:
		return true
	}
	return false
}

// Active reports whether the pod holds resources on its node: placed, and
// neither stopped nor finished.
func (p *Pod) Active() bool {
	return p.NodeID != "" && p.DesiredStatus == PodDesiredRun && !p.Terminal()
}

// GroupResources sums the resources of a group's tasks.
func GroupResources(g *TaskGroup) *Resources {
	total := &Resources{}
	for _, t := range g.Tasks {
		if t == nil {
			continue
		}
		total.GPUs += t.GPUs()
		if t.Resources == nil {
			continue
		}
		total.CPU += t.Resources.CPU
		total.MemoryMB += t.Resources.MemoryMB
	}
	return total
}

// GPUs is how many of the node's GPUs the task takes: resources.gpus,
// or a gpu-slurm task's config.gpus when that is more.
func (t *Task) GPUs() int {
	n := 0
	if t.Resources != nil {
		n = t.Resources.GPUs
	}
	if t.Driver == DriverGPUSlurm && t.Config != nil && t.Config.GPUs > n {
		n = t.Config.GPUs
	}
	return n
}
