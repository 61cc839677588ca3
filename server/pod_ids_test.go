package server

import (
	"testing"

	"github.com/google/uuid"
)

func TestPodIDs(t *testing.T) {
	g := newPodIDs()
	g.next.Store(0xfffffffe) // the counter wraps without repeating IDs
	seen := map[string]bool{}
	shown := map[string]bool{}
	var prev string
	for i := 0; i < 10000; i++ {
		id := g.New()
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("%q is not a UUID: %v", id, err)
		}
		if u.Version() != 8 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %s, want 8 and RFC 4122/9562", id, u.Version(), u.Variant())
		}
		if seen[id] || shown[id[:8]] {
			t.Fatalf("%s repeats an ID or its 8-digit short form", id)
		}
		seen[id], shown[id[:8]] = true, true
		// Each ID sorts after the last (the counter wrapped after the
		// first), so new pods land next to each other in the index.
		if i > 1 && id <= prev {
			t.Fatalf("%s does not sort after %s", id, prev)
		}
		prev = id
	}
}
