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
