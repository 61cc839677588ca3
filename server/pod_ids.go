package server

import "github.com/google/uuid"

// podIDs makes pod IDs: random (version 4) UUIDs.
//
// mk once counted them (version 8 UUIDs whose first 32 bits counted up
// from a random start): the state store indexes pods by ID in radix trees,
// and keys that follow each other share the tree path a write copies, which
// cut the FSM apply of a register with its three pods
// (BenchmarkApplyRegisterWithPods) by about a fifth. Random won anyway: the
// CLI shows and accepts 8-digit prefixes, and counted IDs made those
// prefixes look sequential (pods of one job differed in their last digit)
// and easy to mistype for one another. A random prefix tells pods apart at
// a glance; the apply cost is small next to the rest of a register.
type podIDs struct{}

func newPodIDs() *podIDs { return &podIDs{} }

// New returns a new pod ID. It is safe for concurrent use.
func (g *podIDs) New() string { return uuid.NewString() }
