package structs

// Bodies and results of the HTTP API that are not stored objects.

// JobRegisterBody is the body of POST /v1/jobs.
type JobRegisterBody struct {
	Job *Job
	// EnforceIndex makes the register fail with 409 unless the stored
	// job's JobModifyIndex equals JobModifyIndex (0: the job must be new).
	EnforceIndex   bool
	JobModifyIndex uint64
}

// JobParseBody is the body of POST /v1/jobs/parse.
type JobParseBody struct {
	JobHCL    string
	Filename  string            `json:",omitempty"`
	Variables map[string]string `json:",omitempty"`
}

// JobPlanBody is the body of POST /v1/job/{id}/plan.
type JobPlanBody struct {
	Job *Job
}

// WriteResult is the answer to a write that returns only its index.
type WriteResult struct {
	Index uint64
}

// JobListStub is a job as listed by GET /v1/jobs.
type JobListStub struct {
	ID             string
	Name           string
	Namespace      string
	Type           string
	Status         string
	Version        uint64
	Stop           bool
	Groups         int
	SubmitTime     int64
	CreateIndex    uint64
	ModifyIndex    uint64
	JobModifyIndex uint64
}

// Stub returns the list form of a job.
func (j *Job) Stub() *JobListStub {
	return &JobListStub{ID: j.ID, Name: j.Name, Namespace: j.Namespace, Type: j.Type, Status: j.Status,
		Version: j.Version, Stop: j.Stop, Groups: len(j.Groups), SubmitTime: j.SubmitTime,
		CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex, JobModifyIndex: j.JobModifyIndex}
}

// RaftServer is one member of the Raft configuration.
type RaftServer struct {
	ID      string
	Address string
	Leader  bool
	Voter   bool
}

// RaftConfiguration is the answer of GET /v1/operator/raft/configuration.
type RaftConfiguration struct {
	Index   uint64
	Servers []*RaftServer
}

// AgentMember is a Serf member as listed by GET /v1/agent/members.
type AgentMember struct {
	Name   string
	Addr   string
	Port   uint16
	Status string
	Tags   map[string]string
}

// NodeRegisterBody is the body of PUT /v1/node/register.
type NodeRegisterBody struct {
	Node *Node
}

// NodeRegisterResponse answers a register or a heartbeat.
type NodeRegisterResponse struct {
	Index uint64
	// HeartbeatTTL is how often the client must heartbeat ("10s").
	HeartbeatTTL string
	// PodCIDR is the node's pod subnet and Network the cluster's, for a
	// register (empty for a heartbeat).
	PodCIDR string          `json:",omitempty"`
	Network *ClusterNetwork `json:",omitempty"`
}

// NodeDrainBody is the body of POST /v1/node/{id}/drain.
type NodeDrainBody struct {
	Enable bool
}

// NodeEligibilityBody is the body of POST /v1/node/{id}/eligibility.
type NodeEligibilityBody struct {
	Eligible bool
}

// PodStatusBody is the body of PUT /v1/node/{id}/pods/status.
type PodStatusBody struct {
	Updates []*PodStatusUpdate
}

// PodExecBody is the body of POST /v1/pod/{id}/exec: a command to run in
// the environment of one of the pod's running tasks.
type PodExecBody struct {
	// Task may be empty when the pod has one task.
	Task    string `json:",omitempty"`
	Command []string
	// Timeout bounds the command ("10s"); empty means DefaultExecTimeout.
	Timeout string `json:",omitempty"`
}

// Exec timeouts: the default, and the most a request may ask for.
const (
	DefaultExecTimeout = "30s"
	MaxExecTimeout     = "5m"
)

// PodExecResult is the answer of POST /v1/pod/{id}/exec. Stdout and Stderr
// are the command's output as text (bytes that are not UTF-8 become
// U+FFFD).
type PodExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// PodStats is the answer of GET /v1/pod/{id}/stats: one sample of each
// task's resource use, taken by the client that runs the pod.
type PodStats struct {
	PodID  string
	NodeID string
	// Timestamp is when the sample was taken, unix nanos.
	Timestamp int64
	Tasks     map[string]*TaskStats
}

// TaskStats is one task's entry in PodStats.
type TaskStats struct {
	// State is the task's state on the client (TaskStateRunning, ...).
	State string
	// Limits are the task's resources from the job (CPU MHz, memory MB).
	Limits *Resources
	// Usage is nil when the task is not running.
	Usage *ResourceUsage `json:",omitempty"`
}

// ResourceUsage is one sample of a task's resource use.
type ResourceUsage struct {
	// CPUPercent is the share of one core used over the sample's interval
	// (200 = two full cores); CPUMHz is the same in MHz of this node's
	// cores, comparable with Limits.CPU.
	CPUPercent float64
	CPUMHz     float64
	// CPUTotalNanos is the CPU time used since the task started.
	CPUTotalNanos uint64
	// MemoryRSS is resident anonymous memory; MemoryUsage all memory
	// charged to the task (RSS and page cache). Bytes.
	MemoryRSS   uint64
	MemoryUsage uint64
}

// EndpointsChanges answers GET /v1/endpoints/changes?since=N: the
// endpoints written after index N and the keys of every service's
// endpoints that exist now (those missing from Keys are gone), so a
// watcher of many services receives only what changed.
type EndpointsChanges struct {
	Changed []*Endpoints   `json:",omitempty"`
	Keys    []NamespacedID `json:",omitempty"`
}

// EndpointsSyncedBody is a client's report that its proxy programmed the
// endpoints as of Index (PUT /v1/node/{id}/endpoints-synced).
type EndpointsSyncedBody struct {
	Index uint64
}

// JobRevertBody is the body of POST /v1/job/{id}/revert.
type JobRevertBody struct {
	Version        uint64
	EnforceIndex   bool   `json:",omitempty"`
	JobModifyIndex uint64 `json:",omitempty"`
}

// DeploymentProgress is a deployment with its pods counted, as
// GET /v1/job/{id}/deployments shows it.
type DeploymentProgress struct {
	ID                string
	Group             string
	JobVersion        uint64
	Status            string
	StatusDescription string `json:",omitempty"`
	// Desired is the group's count; Placed, Healthy and Unhealthy count
	// live pods of the current version, OldPods those of older versions
	// (draining ones included).
	Desired, Placed, Healthy, Unhealthy, OldPods int
	// Canaries is the update block's canary count, 0 when the rollout
	// has none or they were promoted.
	Canaries          int    `json:",omitempty"`
	Promoted          bool   `json:",omitempty"`
	RequiresPromotion bool   `json:",omitempty"`
	StableVersion     uint64 `json:",omitempty"`
	ModifyIndex       uint64
}
