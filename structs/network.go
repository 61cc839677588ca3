package structs

// Cluster network defaults: the pool each node's pod /24 comes from and
// the range of service virtual IPs (server config pod_cidr_pool and
// service_cidr).
const (
	DefaultPodCIDRPool = "10.42.0.0/16"
	DefaultServiceCIDR = "10.96.0.0/16"
	// NodePortMin and NodePortMax bound NodePorts, as Kubernetes'.
	NodePortMin = 30000
	NodePortMax = 32767
	// ClusterDomain is the DNS domain of services and pods.
	ClusterDomain = "mk.local"
)

// Network modes of a group.
const (
	NetworkModeBridge = "bridge"
	NetworkModeHost   = "host"
)

// Protocols of a service port.
const (
	ProtocolTCP = "tcp"
	ProtocolUDP = "udp"
)

// Session affinities of a service.
const (
	SessionAffinityNone     = ""
	SessionAffinityClientIP = "client_ip"
)

// ClusterNetwork is the cluster-wide network configuration of the
// servers, which clients learn when they register.
type ClusterNetwork struct {
	PodCIDRPool string
	ServiceCIDR string
}

// Endpoints are the pods behind one service, as the leader's endpoints
// controller computes them from pods, their IPs and their checks. The
// object's ID, Name and Namespace are the service's.
type Endpoints struct {
	ObjectMeta
	JobID string
	// Endpoints are sorted by pod name.
	Endpoints []*Endpoint `json:",omitempty"`
}

// Endpoint is one pod behind a service.
type Endpoint struct {
	PodID    string
	PodName  string
	NodeID   string
	NodeName string `json:",omitempty"`
	// IP is the pod's IP (bridge mode) or its node's address (host mode).
	IP string
	// Ports maps each service port's name to the port on IP that serves
	// it.
	Ports map[string]int
	// Ready: the pod runs, has an IP and passes its checks. Only ready
	// endpoints take traffic.
	Ready bool
	// Reason says why an endpoint is not ready.
	Reason string `json:",omitempty"`
}

// ReadyCount is the number of ready endpoints.
func (e *Endpoints) ReadyCount() int {
	n := 0
	for _, ep := range e.Endpoints {
		if ep.Ready {
			n++
		}
	}
	return n
}

// EndpointsUpdateRequest upserts the endpoints of services and deletes
// those of services that are gone. The controller computes it; the FSM
// only stores it.
type EndpointsUpdateRequest struct {
	Upserts []*Endpoints   `json:",omitempty"`
	Deletes []NamespacedID `json:",omitempty"`
}
