package proxy

import (
	"slices"
	"strconv"
)

// In nftables mode a service port with two or more endpoints and no
// session affinity picks its endpoint with one rule,
//
//	dnat to numgen random mod n offset O map @endpoints-K
//
// where endpoint i of the port is the element O+i of the map. The offset
// is the port's slot shifted left by 16 bits, so each port owns 65,536
// keys; the slots are spread over nftEndpointShards maps per protocol.
//
// Why not one map: the kernel walks a map's elements whenever a rule is
// bound to it, and checks each element added against every rule bound to
// it, so one map used by every service would make a full sync quadratic
// (15 s at 10,000 services × 10 endpoints). With 256 maps each rule sees
// 1/256 of the elements. Why not a map per port: nft reads every map of
// the table before each transaction, so partial syncs would pay for
// 10,000 of them (see docs/architecture.md).
const (
	nftEndpointsPrefix = "endpoints-"
	nftEndpointShards  = 256
	nftSlotBits        = 16
	nftMaxSlots        = 1 << (32 - nftSlotBits)
)

// endpointSlots gives each service port that picks its endpoint through
// a map a slot of its own, kept for as long as the port needs one: the
// map elements of a port that did not change are never rewritten. Slots
// of ports that went are reused, lowest first.
type endpointSlots struct {
	byID map[string]int
	free []int // released slots, highest first
	next int   // slots below next were handed out at least once
}

func newEndpointSlots() *endpointSlots {
	return &endpointSlots{byID: map[string]int{}}
}

// usesMap says whether sp picks its endpoint through a map: two or more
// endpoints (one is a plain DNAT), no session affinity (those keep a
// rule per endpoint, each updating its own set), and no more endpoints
// than a slot has keys.
func usesMap(sp *ServicePort) bool {
	n := len(sp.Endpoints)
	return sp.AffinitySeconds == 0 && n >= 2 && n <= 1<<nftSlotBits
}

// of returns port id's slot, handing out one if it has none; -1 when
// every slot is taken.
func (s *endpointSlots) of(id string) int {
	if slot, ok := s.byID[id]; ok {
		return slot
	}
	var slot int
	switch {
	case len(s.free) > 0:
		slot, s.free = s.free[len(s.free)-1], s.free[:len(s.free)-1]
	case s.next < nftMaxSlots:
		slot = s.next
		s.next++
	default:
		return -1
	}
	s.byID[id] = slot
	return slot
}

// keep releases the slots of the ports not in live.
func (s *endpointSlots) keep(live map[string]bool) {
	released := false
	for id, slot := range s.byID {
		if !live[id] {
			delete(s.byID, id)
			s.free = append(s.free, slot)
			released = true
		}
	}
	if released {
		// Highest first, so of takes the lowest.
		slices.Sort(s.free)
		slices.Reverse(s.free)
	}
}

// endpointsMap is the map that holds the elements of slot, for a port
// of protocol: a 32-bit key (the numgen value) to an (address . port)
// pair. Each protocol has its own maps: nft types a map's port by the
// protocol of the rules that use it.
func endpointsMap(slot int, protocol string) nftSet {
	return nftSet{
		name: nftEndpointsPrefix + protocol + "-" + strconv.Itoa(slot%nftEndpointShards),
		spec: "typeof numgen random mod 2 : ip daddr . " + protocol + " dport;",
	}
}
