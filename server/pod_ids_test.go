package server

import (
	"testing"

	"github.com/google/uuid"
)

// TestPodIDs: pod IDs are version 4 UUIDs, unique, and do not count up, so
// the 8-digit prefixes the CLI shows are neither repeated nor sequential.
func TestPodIDs(t *testing.T) {
	g := newPodIDs()
	seen := map[string]bool{}
	ascending := 0
	var prev string
	const n = 10000
	for i := 0; i < n; i++ {
		id := g.New()
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("%q is not a UUID: %v", id, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %s, want 4 and RFC 4122", id, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%s repeats an ID", id)
		}
		seen[id] = true
		if id > prev {
			ascending++
		}
		prev = id
	}
	// Random IDs sort after the one before about half the time; counted
	// ones always do.
	if ascending > n*6/10 || ascending < n*4/10 {
		t.Fatalf("%d of %d IDs sort after the one before, want about half", ascending, n)
	}
}
