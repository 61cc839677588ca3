package state

import (
	"fmt"
	"net/netip"

	"github.com/hashicorp/go-memdb"

	"github.com/mk-orchestrator/mk/structs"
)

// Service addresses come from two indexes of the services table, kept in
// numeric order: ClusterIPs and NodePorts. A new service gets the address
// after the highest in use, and the lowest free one once the range's top
// is reached: a lookup or two per register, where reading every service
// (as this did first) made each register cost in proportion to the
// services already there. Being computed from the state alone, in the
// order entries apply, it is the same on every replica.

const (
	IndexClusterIP = "cluster_ip"
	IndexNodePort  = "node_port"
)

// byClusterIP keys a service by its ClusterIP as a number.
var byClusterIP = &keyIndexer{arity: 1, key: func(obj any) (keyParts, bool) {
	n, ok := addrNumber(obj.(*structs.Service).ClusterIP)
	if !ok {
		return keyParts{}, false
	}
	return parts(versionKey(n)), true
}}

// nodePortIndexer keys a service by each of its NodePorts.
type nodePortIndexer struct{}

func (nodePortIndexer) FromObject(obj any) (bool, [][]byte, error) {
	var keys [][]byte
	for _, p := range obj.(*structs.Service).Ports {
		if p.NodePort != 0 {
			keys = append(keys, encodeKey([]string{versionKey(uint64(p.NodePort))}, false))
		}
	}
	return len(keys) > 0, keys, nil
}

func (nodePortIndexer) FromArgs(args ...any) ([]byte, error) { return encodeArgs(args, false) }

// addrNumber is an IPv4 address (text) as a number.
func addrNumber(s string) (uint64, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	return number(a), true
}

func number(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func numberAddr(n uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// numberRange is a range of an index's numbers, with those a register
// has handed out but not yet written.
type numberRange struct {
	index   string
	lo, hi  uint64 // inclusive
	pending map[uint64]bool
	// numbers gives the numbers of a service in the range's index.
	numbers func(*structs.Service) []uint64
}

// holder is the service that holds n, nil when none does.
func (t *WriteTxn) holder(index string, n uint64) (*structs.Service, error) {
	raw, err := t.txn.First(TableServices, index, n)
	if err != nil {
		return nil, fmt.Errorf("%w: lookup %s %d: %v", ErrWriteFailed, index, n, err)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*structs.Service), nil
}

// free returns a number of r that no service holds: the one after the
// highest held, else the lowest free; false when r is full.
func (t *WriteTxn) free(r *numberRange) (uint64, bool, error) {
	taken := func(n uint64) (bool, error) {
		if r.pending[n] {
			return true, nil
		}
		h, err := t.holder(r.index, n)
		return h != nil, err
	}
	start := r.lo
	it, err := t.txn.ReverseLowerBound(TableServices, r.index, r.hi+1)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %s: %v", ErrWriteFailed, r.index, err)
	}
	if raw := it.Next(); raw != nil {
		for _, n := range r.numbers(raw.(*structs.Service)) {
			if n >= start && n < r.hi {
				start = n + 1
			}
		}
	}
	for _, from := range []uint64{start, r.lo} {
		for n := from; n <= r.hi; n++ {
			busy, err := taken(n)
			if err != nil {
				return 0, false, err
			}
			if !busy {
				return n, true, nil
			}
		}
	}
	return 0, false, nil
}

// assignServiceAddrs gives a job's services their ClusterIPs and
// NodePorts: what the stored service of the same name has, else a free
// one of the range. A NodePort the job asks for that another service
// holds is refused.
func (t *WriteTxn) assignServiceAddrs(job *structs.Job, svcs []*structs.Service, cidr string) error {
	if len(svcs) == 0 {
		return nil
	}
	ips := &numberRange{index: IndexClusterIP, pending: map[uint64]bool{}, numbers: func(s *structs.Service) []uint64 {
		n, _ := addrNumber(s.ClusterIP)
		return []uint64{n}
	}}
	ports := &numberRange{index: IndexNodePort, lo: structs.NodePortMin, hi: structs.NodePortMax, pending: map[uint64]bool{},
		numbers: func(s *structs.Service) []uint64 {
			var out []uint64
			for _, p := range s.Ports {
				out = append(out, uint64(p.NodePort))
			}
			return out
		}}
	for _, svc := range svcs {
		existing, err := serviceByName(t.txn, nil, svc.Namespace, svc.Name)
		if err != nil {
			return err
		}
		if err := t.assignClusterIP(svc, existing, ips, cidr); err != nil {
			return err
		}
		if err := t.assignNodePorts(job, svc, existing, ports); err != nil {
			return err
		}
	}
	return nil
}

func (t *WriteTxn) assignClusterIP(svc, existing *structs.Service, ips *numberRange, cidr string) error {
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
	// Not the network address nor the first host (kept for the cluster's
	// own use, as Kubernetes keeps .1 for its API service), nor broadcast.
	first := number(prefix.Addr())
	last := first | (1<<(32-prefix.Bits()) - 1) // broadcast
	ips.lo, ips.hi = first+2, last-1
	n, ok, err := t.free(ips)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the service CIDR %s has no free address for service %q", structs.ErrConflict, cidr, svc.Name)
	}
	ips.pending[n] = true
	svc.ClusterIP = numberAddr(n).String()
	return nil
}

func (t *WriteTxn) assignNodePorts(job *structs.Job, svc, existing *structs.Service, ports *numberRange) error {
	if svc.Type != structs.ServiceTypeNodePort {
		for _, p := range svc.Ports {
			p.NodePort = 0
		}
		return nil
	}
	for _, p := range svc.Ports {
		if p.NodePort != 0 {
			h, err := t.holder(IndexNodePort, uint64(p.NodePort))
			if err != nil {
				return err
			}
			holder := ""
			switch {
			case h != nil && (h.Namespace != svc.Namespace || h.Name != svc.Name):
				holder = h.Namespace + "/" + h.Name
			case ports.pending[uint64(p.NodePort)]:
				holder = "of the same job"
			}
			if holder != "" {
				return &structs.ValidationError{Path: fmt.Sprintf("job %q group %q service %q", job.ID, svc.Group, svc.Name),
					Field: "node_port", Msg: fmt.Sprintf("%d is already used by service %s", p.NodePort, holder)}
			}
			ports.pending[uint64(p.NodePort)] = true
			continue
		}
		if prev := existingNodePort(existing, p.Name); prev != 0 {
			p.NodePort = prev
			ports.pending[uint64(prev)] = true
			continue
		}
		n, ok, err := t.free(ports)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: no free NodePort left for service %q", structs.ErrConflict, svc.Name)
		}
		ports.pending[n] = true
		p.NodePort = int(n)
	}
	return nil
}

var _ memdb.MultiIndexer = nodePortIndexer{}
