package state

import (
	"fmt"
	"net/netip"

	"github.com/mk-orchestrator/mk/structs"
)

// The FSM allocates addresses from the ranges the leader puts in the log
// entry: lowest free first, computed from the state alone, so every
// replica allocates the same without any clock or randomness, and two
// concurrent registers can never get the same address (entries apply one
// at a time).

// assignPodCIDR gives a node without a pod CIDR the lowest /24 of pool
// that no other node holds. A node keeps the /24 it has (UpsertNode
// carries it over); a pool that is full is an error that fails the
// register. A node the servers do not know (purged while its client ran
// on) may ask for the /24 it had, which another node may hold by now: it
// gets a free one instead, and its client is told.
func (t *WriteTxn) assignPodCIDR(node *structs.Node, pool string, known bool) error {
	nodes, err := listTable[*structs.Node](t.txn, nil, TableNodes, "")
	if err != nil {
		return err
	}
	used := map[string]string{}
	for _, n := range nodes {
		if n.ID != node.ID && n.PodCIDR != "" {
			used[n.PodCIDR] = n.ID
		}
	}
	if node.PodCIDR != "" {
		other, taken := used[node.PodCIDR]
		switch {
		case !taken:
			return nil
		case known:
			return fmt.Errorf("%w: pod CIDR %s of node %s is held by node %s", structs.ErrConflict, node.PodCIDR, node.ID, other)
		default:
			node.PodCIDR = ""
		}
	}
	if pool == "" {
		return nil
	}
	prefix, err := netip.ParsePrefix(pool)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 24 || prefix.Bits() < 8 {
		return fmt.Errorf("%w: pod CIDR pool %q is not an IPv4 range from /8 to /24", structs.ErrBadRequest, pool)
	}
	prefix = prefix.Masked()
	for a := prefix.Addr(); prefix.Contains(a); a = nextSubnet24(a) {
		cidr := netip.PrefixFrom(a, 24).String()
		if _, taken := used[cidr]; !taken {
			node.PodCIDR = cidr
			return nil
		}
	}
	return fmt.Errorf("%w: the pod CIDR pool %s has no free /24 left for node %s", structs.ErrConflict, pool, node.Name)
}

// nextSubnet24 is the first address of the /24 after a's.
func nextSubnet24(a netip.Addr) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8
	v += 1 << 8
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0})
}

// serviceAddrs are the ClusterIPs and NodePorts that stored services hold,
// with the service holding each.
type serviceAddrs struct {
	ips   map[string]string
	ports map[int]string
}

func (t *WriteTxn) usedServiceAddrs() (*serviceAddrs, error) {
	svcs, err := listTable[*structs.Service](t.txn, nil, TableServices, AllNamespaces)
	if err != nil {
		return nil, err
	}
	u := &serviceAddrs{ips: map[string]string{}, ports: map[int]string{}}
	for _, s := range svcs {
		key := s.Namespace + "/" + s.Name
		if s.ClusterIP != "" {
			u.ips[s.ClusterIP] = key
		}
		for _, p := range s.Ports {
			if p.NodePort != 0 {
				u.ports[p.NodePort] = key
			}
		}
	}
	return u, nil
}

// assignServiceAddrs gives a job's services their ClusterIPs and
// NodePorts: what the stored service of the same name has, else the
// lowest free of the range. A NodePort the job asks for that another
// service holds is refused.
func (t *WriteTxn) assignServiceAddrs(job *structs.Job, svcs []*structs.Service, cidr string) error {
	if len(svcs) == 0 {
		return nil
	}
	used, err := t.usedServiceAddrs()
	if err != nil {
		return err
	}
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		existing, err := serviceByName(t.txn, nil, svc.Namespace, svc.Name)
		if err != nil {
			return err
		}
		if err := assignClusterIP(svc, existing, used, cidr); err != nil {
			return err
		}
		if err := assignNodePorts(job, svc, existing, used); err != nil {
			return err
		}
		used.ips[svc.ClusterIP] = key
		for _, p := range svc.Ports {
			if p.NodePort != 0 {
				used.ports[p.NodePort] = key
			}
		}
	}
	return nil
}

func assignClusterIP(svc, existing *structs.Service, used *serviceAddrs, cidr string) error {
	if existing != nil && existing.ClusterIP != "" {
		svc.ClusterIP = existing.ClusterIP
		return nil
	}
	if cidr == "" {
		return nil
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return fmt.Errorf("%w: service CIDR %q is not an IPv4 range of /30 or wider", structs.ErrBadRequest, cidr)
	}
	prefix = prefix.Masked()
	// Skip the network address and the first host (kept for the cluster's
	// own use, as Kubernetes keeps .1 for its API service).
	last := lastAddr(prefix)
	for a := prefix.Addr().Next().Next(); a.Less(last); a = a.Next() {
		if _, taken := used.ips[a.String()]; !taken {
			svc.ClusterIP = a.String()
			return nil
		}
	}
	return fmt.Errorf("%w: the service CIDR %s has no free address for service %q", structs.ErrConflict, cidr, svc.Name)
}

// lastAddr is a prefix's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func assignNodePorts(job *structs.Job, svc, existing *structs.Service, used *serviceAddrs) error {
	if svc.Type != structs.ServiceTypeNodePort {
		for _, p := range svc.Ports {
			p.NodePort = 0
		}
		return nil
	}
	key := svc.Namespace + "/" + svc.Name
	for _, p := range svc.Ports {
		if p.NodePort != 0 {
			if holder, taken := used.ports[p.NodePort]; taken && holder != key {
				return &structs.ValidationError{Path: fmt.Sprintf("job %q group %q service %q", job.ID, svc.Group, svc.Name),
					Field: "node_port", Msg: fmt.Sprintf("%d is already used by service %s", p.NodePort, holder)}
			}
			continue
		}
		if prev := existingNodePort(existing, p.Name); prev != 0 {
			p.NodePort = prev
			continue
		}
		for port := structs.NodePortMin; port <= structs.NodePortMax; port++ {
			if _, taken := used.ports[port]; !taken {
				p.NodePort = port
				break
			}
		}
		if p.NodePort == 0 {
			return fmt.Errorf("%w: no free NodePort left for service %q", structs.ErrConflict, svc.Name)
		}
		used.ports[p.NodePort] = key
	}
	return nil
}

func existingNodePort(existing *structs.Service, portName string) int {
	if existing == nil {
		return 0
	}
	for _, p := range existing.Ports {
		if p.Name == portName {
			return p.NodePort
		}
	}
	return 0
}
