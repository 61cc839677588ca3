package structs

// Deployment statuses.
const (
	DeploymentStatusRunning    = "running"
	DeploymentStatusPaused     = "paused" // canaries placed, waiting for promotion
	DeploymentStatusSuccessful = "successful"
	DeploymentStatusFailed     = "failed"
	DeploymentStatusCancelled  = "cancelled"
)

// Deployment is one per group of a service job. It owns the group's replica
// sets and rolls pods from older ones to the current one.
type Deployment struct {
	ObjectMeta
	JobID      string
	Group      string
	JobVersion uint64
	// ReplicaSetID is the replica set of the job's current version: the
	// target of the rollout.
	ReplicaSetID string
	Strategy     *UpdateStrategy `json:",omitempty"`
	Status       string
	// StatusDescription says why the deployment has its status.
	StatusDescription string `json:",omitempty"`
	// Replicas is the group's desired count: the job's count, or the last
	// one `job scale` or the autoscaler set (a count, not a new version).
	Replicas int
	// StableReplicaSetID is the replica set of the last version whose
	// rollout completed: where auto_revert goes back to.
	StableReplicaSetID string `json:",omitempty"`
	StableVersion      uint64 `json:",omitempty"`
	// Promoted is set once the canaries of this version are promoted.
	Promoted bool `json:",omitempty"`
	// StartTime is when the rollout to ReplicaSetID began (unix nanos,
	// chosen by the proposer).
	StartTime int64 `json:",omitempty"`
	// ProgressTime is when the rollout last moved on: an old pod taken
	// out of service, or the canaries promoted. progress_deadline counts
	// from it (from StartTime before it), as Nomad's resets on progress:
	// a long rollout that keeps moving does not fail, nor does one
	// promoted after its canaries waited for a person.
	ProgressTime int64 `json:",omitempty"`
}

// ReplicaSet is a pod template with a desired count, one per group version.
type ReplicaSet struct {
	ObjectMeta
	JobID        string
	Group        string
	DeploymentID string `json:",omitempty"`
	JobVersion   uint64
	// TemplateHash is a hash of the pod template; the ID ends with it, as
	// Kubernetes' pod-template-hash, so the same template keeps its ID.
	TemplateHash string
	Replicas     int
	Selector     map[string]string
	Template     *TaskGroup
}

// Service types.
const (
	ServiceTypeClusterIP = "ClusterIP"
	ServiceTypeNodePort  = "NodePort"
)

// Service is a stable name and virtual IP in front of a group's pods.
type Service struct {
	ObjectMeta
	JobID    string
	Group    string
	Type     string
	Selector map[string]string
	Ports    []*ServicePort
	// ClusterIP is allocated by the leader from the service CIDR.
	ClusterIP string          `json:",omitempty"`
	Checks    []*ServiceCheck `json:",omitempty"`
	// SessionAffinity "client_ip" keeps a client on one endpoint.
	SessionAffinity string `json:",omitempty"`
}

// ServicePort maps a service port to a pod port.
type ServicePort struct {
	Name     string
	Protocol string // "tcp" (services' ports are TCP for now)
	Port     int
	// TargetPort is the pod's port (bridge mode); in host mode each
	// endpoint carries its own (Endpoint.Ports).
	TargetPort int
	// NodePort is allocated by the leader (or asked for) for NodePort
	// services: it answers on every node.
	NodePort int `json:",omitempty"`
}

// Autoscaler scales a deployment between Min and Max on pod metrics.
type Autoscaler struct {
	ObjectMeta
	JobID             string
	Group             string
	TargetDeployment  string
	Min               int
	Max               int
	CPUPercent        int    `json:",omitempty"`
	MemoryPercent     int    `json:",omitempty"`
	ScaleUpCooldown   string `json:",omitempty"`
	ScaleDownCooldown string `json:",omitempty"`
}

// Ingress routes host + path to services.
type Ingress struct {
	ObjectMeta
	JobID string
	Group string
	Host  string `json:",omitempty"`
	Rules []*IngressPath
}

// JobObjects are the objects derived from one job by translation.
type JobObjects struct {
	Deployments []*Deployment `json:",omitempty"`
	ReplicaSets []*ReplicaSet `json:",omitempty"`
	Services    []*Service    `json:",omitempty"`
	Autoscalers []*Autoscaler `json:",omitempty"`
	Ingresses   []*Ingress    `json:",omitempty"`
}

// Kinds of derived objects, as named in plans and API paths.
const (
	KindDeployment = "Deployment"
	KindReplicaSet = "ReplicaSet"
	KindService    = "Service"
	KindAutoscaler = "Autoscaler"
	KindIngress    = "Ingress"
)

// Each calls fn for every object with its kind, in a stable order.
func (o *JobObjects) Each(fn func(kind string, obj Object)) {
	for _, x := range o.Deployments {
		fn(KindDeployment, x)
	}
	for _, x := range o.ReplicaSets {
		fn(KindReplicaSet, x)
	}
	for _, x := range o.Services {
		fn(KindService, x)
	}
	for _, x := range o.Autoscalers {
		fn(KindAutoscaler, x)
	}
	for _, x := range o.Ingresses {
		fn(KindIngress, x)
	}
}
