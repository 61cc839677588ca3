package structs

// Deployment is one per group of a service job. It owns the group's replica
// sets and will drive rolling updates between them.
type Deployment struct {
	ObjectMeta
	JobID      string
	Group      string
	JobVersion uint64
	// ReplicaSetID is the replica set of the job's current version.
	ReplicaSetID string
	Strategy     *UpdateStrategy `json:",omitempty"`
	Status       string
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
