package server

import (
	"maps"
	"testing"
)

func TestDirtySet(t *testing.T) {
	var d dirtySet
	if jobs, room := d.take(); len(jobs) != 0 || room {
		t.Fatalf("empty set took %v, room %v", jobs, room)
	}
	d.markJob("default", "web")
	d.markJob("prod", "api")
	d.markJob("default", "web")
	d.markRoom()
	jobs, room := d.take()
	want := map[string]bool{"default/web": true, "prod/api": true}
	if !maps.Equal(jobs, want) || !room {
		t.Fatalf("took %v, room %v; want %v, room true", jobs, room, want)
	}
	if again, room := d.take(); len(again) != 0 || room {
		t.Fatalf("a second take got %v, room %v", again, room)
	}
	// A failed pass puts back what it took, next to what came meanwhile.
	d.markJob("default", "db")
	d.restore(jobs, room)
	jobs, room = d.take()
	want["default/db"] = true
	if !maps.Equal(jobs, want) || !room {
		t.Fatalf("after restore took %v, room %v; want %v, room true", jobs, room, want)
	}
}
