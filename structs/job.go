package structs

// Job types.
const (
	JobTypeService  = "service"
	JobTypeBatch    = "batch"
	JobTypeSystem   = "system"
	JobTypeFunction = "function"
)

// Job status values, derived by the servers.
const (
	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// Job is the user's job file, parsed and validated. The same type is decoded
// from HCL, sent over the API and stored by the FSM. A job's ID is its name
// within its namespace.
type Job struct {
	ObjectMeta
	Type        string
	Datacenters []string          `json:",omitempty"`
	Priority    int               `json:",omitempty"`
	Meta        map[string]string `json:",omitempty"`
	Groups      []*TaskGroup

	// Fields below are set by the servers, not by the user.

	// Version increments on every change of the spec.
	Version uint64
	// Stop is true once the job was stopped; its history is kept.
	Stop   bool `json:",omitempty"`
	Status string
	// SubmitTime is chosen by the server that accepts the write (unix nanos),
	// never by the FSM.
	SubmitTime int64
	// JobModifyIndex is the Raft index of the last change of the spec; it
	// is what EnforceIndex compares against.
	JobModifyIndex uint64
}

// TaskGroup is a set of tasks placed together as one pod.
type TaskGroup struct {
	Name        string
	Count       int
	Update      *UpdateStrategy   `json:",omitempty"`
	Scaling     *ScalingPolicy    `json:",omitempty"`
	Constraints []*Constraint     `json:",omitempty"`
	Volumes     []*VolumeRequest  `json:",omitempty"`
	Network     *NetworkSpec      `json:",omitempty"`
	Services    []*ServiceSpec    `json:",omitempty"`
	Ingress     *IngressSpec      `json:",omitempty"`
	Restart     *RestartPolicy    `json:",omitempty"`
	Meta        map[string]string `json:",omitempty"`
	// ShutdownDelay is how long a stopped pod keeps running after it left
	// its services' endpoints on every node, before its tasks get their
	// kill signal.
	ShutdownDelay string `json:",omitempty"`
	Tasks         []*Task
}

// UpdateStrategy is the rolling update of a service group.
type UpdateStrategy struct {
	// MaxSurge and MaxUnavailable bound a rollout's steps: pods above the
	// count, and healthy pods below it. Each is a number of pods or, when
	// its Percent field is set, a percentage of the count ("25%": surge
	// rounds up, unavailable down, as in Kubernetes).
	MaxSurge        int
	MaxUnavailable  int
	MinHealthyTime  string `json:",omitempty"`
	HealthyDeadline string `json:",omitempty"`
	AutoRevert      bool
	// MaxSurgePercent and MaxUnavailablePercent, when not 0, replace
	// MaxSurge and MaxUnavailable.
	MaxSurgePercent       int `json:",omitempty"`
	MaxUnavailablePercent int `json:",omitempty"`
	// ProgressDeadline bounds the whole rollout.
	ProgressDeadline string `json:",omitempty"`
	// Canary pods of a new version start beside the old ones and wait for
	// a promotion (AutoPromote: once they are healthy).
	Canary      int  `json:",omitempty"`
	AutoPromote bool `json:",omitempty"`
}

// ScalingPolicy is the horizontal autoscaling of a group.
type ScalingPolicy struct {
	Min               int
	Max               int
	CPUPercent        int    `json:",omitempty"`
	MemoryPercent     int    `json:",omitempty"`
	ScaleUpCooldown   string `json:",omitempty"`
	ScaleDownCooldown string `json:",omitempty"`
}

// Constraint restricts where a group's pods may be placed.
type Constraint struct {
	Attribute string
	Operator  string `json:",omitempty"`
	Value     string
}

// VolumeRequest is a group-level volume its tasks may mount.
type VolumeRequest struct {
	Name     string
	Type     string // ephemeral | host
	Source   string `json:",omitempty"`
	ReadOnly bool   `json:",omitempty"`
}

// NetworkSpec is a group's network: the ports its pod exposes.
type NetworkSpec struct {
	Mode  string `json:",omitempty"`
	Ports []*Port
}

// Port is a named port of a pod. To is the port inside the pod; Static a
// fixed host port.
type Port struct {
	Label  string
	To     int `json:",omitempty"`
	Static int `json:",omitempty"`
}

// ServiceSpec is a service block: it becomes a Service object.
type ServiceSpec struct {
	Name     string
	Port     string // a port label of the group's network
	Type     string `json:",omitempty"` // ClusterIP | NodePort
	NodePort int    `json:",omitempty"`
	// Protocol is "tcp" (the default) or "udp".
	Protocol string          `json:",omitempty"`
	Tags     []string        `json:",omitempty"`
	Checks   []*ServiceCheck `json:",omitempty"`
	// SessionAffinity "client_ip" keeps each client on one pod.
	SessionAffinity string `json:",omitempty"`
}

// ProtocolOrDefault is the service's protocol, "tcp" when unset.
func (s *ServiceSpec) ProtocolOrDefault() string {
	if s.Protocol == "" {
		return ProtocolTCP
	}
	return s.Protocol
}

// ServiceCheck is a health check of a service's pods.
type ServiceCheck struct {
	Name    string   `json:",omitempty"`
	Type    string   // http | tcp | exec
	Path    string   `json:",omitempty"`
	Port    string   `json:",omitempty"`
	Command string   `json:",omitempty"`
	Args    []string `json:",omitempty"`
	// Task is the task an exec check runs in (default: the group's first).
	Task     string `json:",omitempty"`
	Interval string
	Timeout  string
}

// IngressSpec routes host + path to services on every client: each
// client's ingress proxy sends a request whose Host is Host (any host when
// empty) to the service of the longest path that prefixes its path.
type IngressSpec struct {
	Host  string `json:",omitempty"`
	Paths []*IngressPath
}

// IngressPath is one path rule of an ingress: requests under Path go to
// the ready endpoints of Service (in the job's namespace, of this job or
// another) on its service port Port.
type IngressPath struct {
	Path    string
	Service string
	Port    int
	// StripPrefix removes Path from the request's path before it is
	// forwarded ("/api/users" reaches the service as "/users").
	StripPrefix bool `json:",omitempty"`
}

// RestartPolicy says how tasks that exit are restarted within their pod.
type RestartPolicy struct {
	Attempts int
	Interval string
	Delay    string
	Mode     string // delay | fail
}

// Task is one process (container) of a pod.
type Task struct {
	Name         string
	Driver       string
	User         string            `json:",omitempty"`
	Config       *TaskConfig       `json:",omitempty"`
	Env          map[string]string `json:",omitempty"`
	Resources    *Resources        `json:",omitempty"`
	VolumeMounts []*VolumeMount    `json:",omitempty"`
	// KillTimeout is how long a stopped task has between KillSignal and
	// SIGKILL (a Go duration, default 5s); KillSignal is the signal that
	// asks it to stop ("SIGTERM" when empty; a name such as "SIGINT" or
	// "INT", or a number).
	KillTimeout string            `json:",omitempty"`
	KillSignal  string            `json:",omitempty"`
	Meta        map[string]string `json:",omitempty"`
}

// TaskConfig is the driver configuration of a task. It is one struct for
// every driver so unknown keys fail at parse time; validation checks that
// the keys used belong to the task's driver.
type TaskConfig struct {
	// docker
	Image      string   `json:",omitempty"`
	Entrypoint []string `json:",omitempty"`
	Pull       string   `json:",omitempty"` // always | if-not-present | never
	// Labels are added to the container's (mk's own win).
	Labels map[string]string `json:",omitempty"`
	// Privileged runs the container privileged, where the client allows.
	Privileged bool     `json:",omitempty"`
	CapAdd     []string `json:",omitempty"`
	CapDrop    []string `json:",omitempty"`
	// Volumes are host binds, "host:container[:ro]", from the client's
	// allow-list only.
	Volumes []string `json:",omitempty"`
	// Ports are the labels of the group's network ports the container
	// serves. They are published through the pod's network (its IP, the
	// services' ClusterIPs and node ports), never by docker's own port
	// mapping, so they only document and are validated.
	Ports []string `json:",omitempty"`
	// docker and exec. WorkDir is work_dir, or working_dir (docker's
	// spelling of the same field).
	Command string   `json:",omitempty"`
	Args    []string `json:",omitempty"`
	WorkDir string   `json:",omitempty"`
	// gpu-slurm: Script is the sbatch script; Files are staged into
	// the task's directory (name → content); the rest become sbatch
	// options (--gres=gpu:N, --partition, --time, --nodes, --ntasks,
	// --cpus-per-task, --mem, --account, --qos, --array); Env is added to
	// the job's environment (--export).
	Script      string            `json:",omitempty"`
	Files       map[string]string `json:",omitempty"`
	GPUs        int               `json:",omitempty"`
	Partition   string            `json:",omitempty"`
	Time        string            `json:",omitempty"`
	Nodes       int               `json:",omitempty"`
	NTasks      int               `json:",omitempty"`
	CPUsPerTask int               `json:",omitempty"`
	Mem         string            `json:",omitempty"`
	Account     string            `json:",omitempty"`
	QOS         string            `json:",omitempty"`
	Array       string            `json:",omitempty"`
	Env         map[string]string `json:",omitempty"`
}

// Resources are a task's limits: CPU in MHz, memory in MB, and the
// node's GPUs it takes (counted by the scheduler like cpu and memory).
type Resources struct {
	CPU      int
	MemoryMB int
	GPUs     int `json:",omitempty"`
}

// VolumeMount mounts a group volume into a task.
type VolumeMount struct {
	Volume      string
	Destination string
	ReadOnly    bool `json:",omitempty"`
}

// LookupGroup returns the group with the given name, or nil.
func (j *Job) LookupGroup(name string) *TaskGroup {
	for _, g := range j.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// LookupTask returns the group's task with the given name, or nil.
func (g *TaskGroup) LookupTask(name string) *Task {
	for _, t := range g.Tasks {
		if t != nil && t.Name == name {
			return t
		}
	}
	return nil
}

// LookupPort returns the port with the given label, or nil.
func (n *NetworkSpec) LookupPort(label string) *Port {
	if n == nil {
		return nil
	}
	for _, p := range n.Ports {
		if p.Label == label {
			return p
		}
	}
	return nil
}

// NamespacedID identifies an object within its namespace.
type NamespacedID struct {
	Namespace string
	ID        string
}

func (n NamespacedID) String() string { return n.Namespace + "/" + n.ID }
