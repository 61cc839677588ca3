package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/client/state"
)

// LeaseStore persists IP leases. client/state.DB implements it; the IPAM
// serialises its calls.
type LeaseStore interface {
	IPLeases() ([]*state.IPLease, error)
	PutIPLease(*state.IPLease) error
	DeleteIPLease(podID string) error
	// LastLeasedIP is the address of the last lease put ("" for none).
	LastLeasedIP() (string, error)
}

// ErrSubnetFull is returned when every address of the node's pod subnet
// is leased.
var ErrSubnetFull = fmt.Errorf("no free address in the node's pod subnet")

// IPAM hands out the addresses of one subnet (the node's pod CIDR) to
// pods: never the network address, the gateway (the first address) or
// the broadcast address, never one address to two pods, and a pod keeps
// its address until it is released. Leases are persisted in the store
// before they are returned, so they survive a restart. Addresses are
// handed out round-robin, so a released address is not reused at once
// (a peer's conntrack entries or caches may still name it). Safe for
// concurrent use.
type IPAM struct {
	subnet *net.IPNet
	store  LeaseStore

	mu sync.Mutex
	// last is the offset in the subnet of the address handed out last;
	// primed once it was read from the store.
	last   uint32
	primed bool
}

// NewIPAM returns the IPAM of an IPv4 subnet of at most /30.
func NewIPAM(subnet *net.IPNet, store LeaseStore) (*IPAM, error) {
	ones, bits := subnet.Mask.Size()
	if subnet.IP.To4() == nil || bits != 32 || ones > 30 {
		return nil, fmt.Errorf("pod subnet %s: want an IPv4 subnet of /30 or larger", subnet)
	}
	return &IPAM{subnet: &net.IPNet{IP: subnet.IP.To4().Mask(subnet.Mask), Mask: subnet.Mask}, store: store, last: 1}, nil
}

// Gateway is the subnet's first address, the pods' gateway.
func (a *IPAM) Gateway() net.IP { return a.addr(1) }

// Subnet returns the subnet.
func (a *IPAM) Subnet() *net.IPNet { return a.subnet }

func (a *IPAM) size() uint32 {
	ones, bits := a.subnet.Mask.Size()
	return 1 << uint(bits-ones)
}

func (a *IPAM) addr(off uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(a.subnet.IP)+off)
	return ip
}

func (a *IPAM) offset(ip net.IP) (uint32, bool) {
	ip4 := ip.To4()
	if ip4 == nil || !a.subnet.Contains(ip4) {
		return 0, false
	}
	return binary.BigEndian.Uint32(ip4) - binary.BigEndian.Uint32(a.subnet.IP), true
}

// Allocate returns the pod's address: the one it holds, or a new lease.
func (a *IPAM) Allocate(podID string) (net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	leases, err := a.store.IPLeases()
	if err != nil {
		return nil, fmt.Errorf("read ip leases: %w", err)
	}
	used := map[uint32]bool{}
	for _, l := range leases {
		off, ok := a.offset(net.ParseIP(l.IP))
		if !ok || l.Subnet != a.subnet.String() {
			continue // stale: of another subnet; Release or Reconcile drops it
		}
		if l.PodID == podID {
			return a.addr(off), nil
		}
		used[off] = true
	}
	if !a.primed {
		// First allocation since start: go on after the last lease.
		if last, err := a.store.LastLeasedIP(); err == nil {
			if off, ok := a.offset(net.ParseIP(last)); ok {
				a.last = off
			}
		}
		a.primed = true
	}
	// Offsets 2 .. size-2: not the network, the gateway or broadcast.
	n := a.size()
	for i := uint32(1); i <= n; i++ {
		off := (a.last + i) % n
		if off < 2 || off > n-2 || used[off] {
			continue
		}
		ip := a.addr(off)
		lease := &state.IPLease{PodID: podID, IP: ip.String(), Subnet: a.subnet.String(), Created: time.Now().UnixNano()}
		if err := a.store.PutIPLease(lease); err != nil {
			return nil, fmt.Errorf("store ip lease of pod %s: %w", podID, err)
		}
		a.last = off
		return ip, nil
	}
	return nil, fmt.Errorf("pod %s: %w %s", podID, ErrSubnetFull, a.subnet)
}

// Release frees the pod's address; a pod without one is not an error.
func (a *IPAM) Release(podID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.store.DeleteIPLease(podID); err != nil {
		return fmt.Errorf("release ip lease of pod %s: %w", podID, err)
	}
	return nil
}

// Leased returns the pods that hold a lease (of any subnet), with their
// addresses.
func (a *IPAM) Leased() (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	leases, err := a.store.IPLeases()
	if err != nil {
		return nil, fmt.Errorf("read ip leases: %w", err)
	}
	out := make(map[string]string, len(leases))
	for _, l := range leases {
		out[l.PodID] = l.IP
	}
	return out, nil
}
