package structs

// Node status values.
const (
	NodeStatusInit  = "initializing"
	NodeStatusReady = "ready"
	NodeStatusDown  = "down"
	NodeStatusLeft  = "left"
)

// Node scheduling eligibility.
const (
	NodeEligible   = "eligible"
	NodeIneligible = "ineligible"
)

// Node is a client machine that runs pods. Its ID is chosen by the client
// once and kept in its local state, so a restarted client is the same node.
type Node struct {
	ObjectMeta
	Datacenter string
	// Address is the client's HTTP API (host:port); servers forward pod
	// logs, exec and stats there.
	Address string
	Status  string
	// Eligibility says whether the scheduler may place new pods here.
	Eligibility string
	// Drain moves the node's pods elsewhere; it implies ineligible.
	Drain bool `json:",omitempty"`
	// Resources are what the node offers to pods (after its reservation).
	Resources *NodeResources
	// Drivers found by fingerprinting, by name.
	Drivers map[string]*DriverInfo `json:",omitempty"`
	// Attributes are fingerprinted facts for constraints: kernel.name,
	// cpu.arch, os.name, unique.hostname, ...
	Attributes map[string]string `json:",omitempty"`
	// PodCIDR is the node's pod subnet (a /24 of the pod CIDR pool),
	// allocated by the leader when the node registers.
	PodCIDR string `json:",omitempty"`
	// NetworkAddress is the node's address that other nodes route its
	// pods' /24 to (host-gw).
	NetworkAddress string `json:",omitempty"`
	// StatusUpdatedAt is when Status last changed (unix nanos), chosen by
	// the server that proposed the change.
	StatusUpdatedAt int64
}

// NodeResources are a node's capacity.
type NodeResources struct {
	CPU      int // MHz
	MemoryMB int
	GPUs     int `json:",omitempty"`
	// MinDynamicPort and MaxDynamicPort bound the ports the scheduler
	// gives dynamic ports on this node; 0 means the default
	// (DefaultMinDynamicPort, DefaultMaxDynamicPort).
	MinDynamicPort int `json:",omitempty"`
	MaxDynamicPort int `json:",omitempty"`
}

// Default range of dynamic ports, as Nomad's.
const (
	DefaultMinDynamicPort = 20000
	DefaultMaxDynamicPort = 32000
)

// DynamicPortRange returns the node's range of dynamic ports, inclusive.
func (r *NodeResources) DynamicPortRange() (lo, hi int) {
	lo, hi = DefaultMinDynamicPort, DefaultMaxDynamicPort
	if r != nil && r.MinDynamicPort > 0 {
		lo = r.MinDynamicPort
	}
	if r != nil && r.MaxDynamicPort > 0 {
		hi = r.MaxDynamicPort
	}
	return lo, hi
}

// DriverInfo is a fingerprinted driver.
type DriverInfo struct {
	Detected bool
	Healthy  bool
	// HealthDescription says why a driver is unhealthy.
	HealthDescription string            `json:",omitempty"`
	Attributes        map[string]string `json:",omitempty"`
}

// Ready reports whether the scheduler may place pods on the node.
func (n *Node) Ready() bool {
	return n.Status == NodeStatusReady && n.Eligibility != NodeIneligible && !n.Drain
}

// HasDriver reports whether the node has a healthy driver.
func (n *Node) HasDriver(name string) bool {
	d, ok := n.Drivers[name]
	return ok && d.Detected && d.Healthy
}
