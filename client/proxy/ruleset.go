package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// MarkMasq is the packet-mark bit of traffic to masquerade (see the
// package documentation).
const MarkMasq = 0x4000

// DefaultAffinitySeconds is how long session affinity keeps a client IP
// on one endpoint after its last new connection (Kubernetes' default).
const DefaultAffinitySeconds = 10800

// NodeInfo is what the rules depend on besides services and endpoints:
// what is per node or per cluster.
type NodeInfo struct {
	// PodCIDRPool is the cluster's pod CIDR pool ("10.42.0.0/16"). Traffic
	// to a ClusterIP from outside the pool (the node itself, other hosts)
	// is masqueraded so replies come back through this node. Empty: only
	// NodePort and hairpin traffic is masqueraded.
	PodCIDRPool string
	// ServiceCIDR is the range of ClusterIPs ("10.96.0.0/16"). With it and
	// the pool, nftables mode marks traffic from outside the pool to any
	// ClusterIP with one rule instead of one per service; a ClusterIP
	// outside it (given before the range changed) keeps its own rule.
	ServiceCIDR string
	// PodCIDR is this node's own pod subnet ("10.42.3.0/24"). Only a pod
	// on this node can reach itself through its service, so nftables
	// mode keeps hairpin elements for endpoints inside it alone. Empty:
	// for every endpoint.
	PodCIDR string
	// NodePortAddresses are the addresses NodePorts answer on; empty means
	// every local address of the node.
	NodePortAddresses []string
	// LocalhostNodePorts makes NodePorts answer on 127.0.0.1 too. It needs
	// net.ipv4.conf.all.route_localnet=1, which the writers set, and
	// brings a rule that drops packets to 127.0.0.0/8 from elsewhere.
	LocalhostNodePorts bool
}

// Ruleset is the desired state of the proxy: what every service port
// needs, in a stable order. It is the same for both backends.
type Ruleset struct {
	Node NodeInfo
	// ServicePorts are sorted by namespace, service and port name.
	ServicePorts []*ServicePort
	// Problems are the inputs Compute skipped, and why.
	Problems []string
}

// ServicePort is one port of one service and its ready endpoints.
type ServicePort struct {
	Namespace, Service, PortName string
	// Protocol is "tcp" or "udp".
	Protocol  string
	ClusterIP string
	Port      int
	// NodePort is 0 when the service has none.
	NodePort int
	// AffinitySeconds > 0 keeps a client IP on one endpoint that long.
	AffinitySeconds int
	// Endpoints are the ready endpoints, sorted by address; none means
	// connections are rejected.
	Endpoints []*Target
	// ID is a stable hash of (namespace, service, port name, protocol):
	// the suffix of the port's chain names.
	ID string
}

// Target is one ready endpoint of a service port.
type Target struct {
	IP   string
	Port int
	// ID is a stable hash of the service port and IP:port.
	ID string
}

// Name is namespace/service:port, for comments and logs.
func (sp *ServicePort) Name() string {
	return sp.Namespace + "/" + sp.Service + ":" + sp.PortName
}

// Addr is IP:port.
func (t *Target) Addr() string { return t.IP + ":" + strconv.Itoa(t.Port) }

// Compute is the desired state for services and endpoints on a node. It
// is pure: it reads its arguments and changes nothing. Endpoints are
// matched to services by namespace and name; only ready endpoints take
// traffic. A service without a ClusterIP gets no rules.
func Compute(services []*structs.Service, endpoints []*structs.Endpoints, node NodeInfo) *Ruleset {
	return newPortCache().compute(services, endpoints, node)
}

// portCache remembers each service's computed ports by the Raft indexes
// of the service and of its endpoints, so that a sync after one change
// recomputes that service only, and hands the writers the very same
// *ServicePort for every service that did not change (they cache what
// they render by it). Objects without indexes (0) are always computed.
type portCache struct {
	node    NodeInfo
	entries map[string]*cachedPorts
}

type cachedPorts struct {
	svcIndex, epsIndex uint64
	ports              []*ServicePort
	problems           []string
}

func newPortCache() *portCache { return &portCache{entries: map[string]*cachedPorts{}} }

// compute is Compute, reusing what it computed last time for services
// whose indexes did not change.
func (c *portCache) compute(services []*structs.Service, endpoints []*structs.Endpoints, node NodeInfo) *Ruleset {
	if !sameNode(c.node, node) {
		c.node, c.entries = node, map[string]*cachedPorts{}
	}
	rs := &Ruleset{Node: node}
	byService := make(map[string]*structs.Endpoints, len(endpoints))
	for _, eps := range endpoints {
		if eps != nil {
			byService[eps.Namespace+"/"+eps.Name] = eps
		}
	}
	seen := make(map[string]*cachedPorts, len(services))
	for _, svc := range services {
		if svc == nil {
			continue
		}
		name := svc.Namespace + "/" + svc.Name
		eps := byService[name]
		var epsIndex uint64
		if eps != nil {
			epsIndex = eps.ModifyIndex
		}
		e := c.entries[name]
		if e == nil || svc.ModifyIndex == 0 || e.svcIndex != svc.ModifyIndex || e.epsIndex != epsIndex ||
			(eps != nil && epsIndex == 0) {
			e = &cachedPorts{svcIndex: svc.ModifyIndex, epsIndex: epsIndex}
			e.ports, e.problems = servicePorts(svc, eps)
		}
		seen[name] = e
		rs.ServicePorts = append(rs.ServicePorts, e.ports...)
		rs.Problems = append(rs.Problems, e.problems...)
	}
	c.entries = seen
	sort.Slice(rs.ServicePorts, func(i, j int) bool {
		a, b := rs.ServicePorts[i], rs.ServicePorts[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.PortName < b.PortName
	})
	return rs
}

func sameNode(a, b NodeInfo) bool {
	return a.PodCIDRPool == b.PodCIDRPool && a.ServiceCIDR == b.ServiceCIDR && a.PodCIDR == b.PodCIDR &&
		a.LocalhostNodePorts == b.LocalhostNodePorts &&
		slices.Equal(a.NodePortAddresses, b.NodePortAddresses)
}

// servicePorts is the desired state of every port of svc, and the
// problems of those that cannot be served.
func servicePorts(svc *structs.Service, eps *structs.Endpoints) ([]*ServicePort, []string) {
	name := svc.Namespace + "/" + svc.Name
	ip, err := netip.ParseAddr(svc.ClusterIP)
	if err != nil || !ip.Is4() {
		return nil, []string{fmt.Sprintf("service %s: no IPv4 ClusterIP (%q)", name, svc.ClusterIP)}
	}
	var ports []*ServicePort
	var problems []string
	for _, port := range svc.Ports {
		sp, problem := servicePort(svc, port, ip.String(), eps)
		if problem != "" {
			problems = append(problems, problem)
		}
		if sp != nil {
			ports = append(ports, sp)
		}
	}
	return ports, problems
}

// servicePort is the desired state of one port of svc, or a problem when
// the port cannot be served.
func servicePort(svc *structs.Service, port *structs.ServicePort, clusterIP string, eps *structs.Endpoints) (*ServicePort, string) {
	if port == nil {
		return nil, ""
	}
	proto := strings.ToLower(port.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	sp := &ServicePort{Namespace: svc.Namespace, Service: svc.Name, PortName: port.Name,
		Protocol: proto, ClusterIP: clusterIP, Port: port.Port}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Sprintf("service port %s: protocol %q is not tcp or udp", sp.Name(), port.Protocol)
	}
	if !validPort(port.Port) {
		return nil, fmt.Sprintf("service port %s: port %d out of range", sp.Name(), port.Port)
	}
	if port.NodePort != 0 {
		if port.NodePort < structs.NodePortMin || port.NodePort > structs.NodePortMax {
			return nil, fmt.Sprintf("service port %s: NodePort %d outside %d-%d", sp.Name(), port.NodePort, structs.NodePortMin, structs.NodePortMax)
		}
		sp.NodePort = port.NodePort
	}
	if svc.SessionAffinity == structs.SessionAffinityClientIP {
		sp.AffinitySeconds = DefaultAffinitySeconds
	}
	sp.ID = hashID(sp.Namespace, sp.Service, sp.PortName, sp.Protocol)
	var problem string
	sp.Endpoints, problem = readyTargets(sp, port, eps)
	return sp, problem
}

// readyTargets are the ready endpoints of one service port, deduplicated
// and sorted by address. An endpoint's port is its own for the port's
// name, else the service port's TargetPort.
func readyTargets(sp *ServicePort, port *structs.ServicePort, eps *structs.Endpoints) ([]*Target, string) {
	if eps == nil {
		return nil, ""
	}
	type keyed struct {
		ip   netip.Addr
		port int
	}
	var found []keyed
	var skipped []string
	for _, ep := range eps.Endpoints {
		if ep == nil || !ep.Ready {
			continue
		}
		ip, err := netip.ParseAddr(ep.IP)
		targetPort, ok := ep.Ports[port.Name]
		if !ok {
			targetPort = port.TargetPort
		}
		if err != nil || !ip.Is4() || !validPort(targetPort) {
			skipped = append(skipped, fmt.Sprintf("%s (%q port %d)", ep.PodName, ep.IP, targetPort))
			continue
		}
		found = append(found, keyed{ip, targetPort})
	}
	slices.SortFunc(found, func(a, b keyed) int {
		if c := a.ip.Compare(b.ip); c != 0 {
			return c
		}
		return a.port - b.port
	})
	found = slices.Compact(found)
	targets := make([]*Target, len(found))
	var scratch [64]byte
	for i, f := range found {
		t := &Target{IP: f.ip.String(), Port: f.port}
		// The ID hashes the service port's ID and IP:port, built on the
		// stack: Compute hashes every endpoint on every sync.
		b := append(append(scratch[:0], sp.ID...), 0)
		b = strconv.AppendInt(append(f.ip.AppendTo(b), ':'), int64(f.port), 10)
		t.ID = hashBytes(b)
		targets[i] = t
	}
	if len(skipped) > 0 {
		return targets, fmt.Sprintf("service port %s: skipped endpoints %s", sp.Name(), strings.Join(skipped, ", "))
	}
	return targets, ""
}

func validPort(p int) bool { return p > 0 && p < 65536 }

// hashID is the base32 of the first 80 bits of the SHA-256 of parts
// joined by NULs: 16 characters, short enough for iptables' 28-character
// chain names, stable across restarts and versions (it names chains that
// outlive the process).
func hashID(parts ...string) string {
	return hashBytes([]byte(strings.Join(parts, "\x00")))
}

func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	var out [16]byte
	base32.StdEncoding.Encode(out[:], sum[:10])
	return string(out[:])
}
