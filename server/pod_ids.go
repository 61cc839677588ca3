package server

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"

	"github.com/google/uuid"
)

// podIDs makes pod IDs: UUIDs (version 8, RFC 9562's custom layout) whose
// first 32 bits count up from a random start and whose other 90 bits are
// random.
//
// Why not random (version 4) UUIDs: the state store indexes pods by ID in
// radix trees on every server, and a random key copies a fresh path of
// nodes down the tree on each insert, while keys that follow each other
// share that path within a write. In the FSM benchmark of a register with
// its three pods (BenchmarkApplyRegisterWithPods) counted IDs cut the
// apply by about a fifth. The first 8 hex digits, which the CLI shows,
// still differ from pod to pod.
type podIDs struct {
	next atomic.Uint32
}

func newPodIDs() *podIDs {
	var start [4]byte
	_, _ = rand.Read(start[:]) // crypto/rand.Read never fails on Linux
	g := &podIDs{}
	g.next.Store(binary.BigEndian.Uint32(start[:]))
	return g
}

// New returns the next pod ID.
func (g *podIDs) New() string {
	var id uuid.UUID
	binary.BigEndian.PutUint32(id[:4], g.next.Add(1))
	_, _ = rand.Read(id[4:])
	id[6] = id[6]&0x0f | 0x80 // version 8
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id.String()
}
