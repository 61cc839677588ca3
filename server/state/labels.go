package state

import (
	"maps"

	"github.com/mk-orchestrator/mk/structs"
)

// labelSets lets the objects written in one transaction share equal label
// maps. A register's deployment, replica set and service carry the same
// labels and selectors, and a replica set's pods the same pod labels; each
// map costs a few hundred bytes of heap on every server for as long as its
// object is stored. Stored objects are never changed in place (readers
// copy before changing), so sharing a map is safe.
type labelSets struct {
	recent [4]map[string]string
	next   int
}

// intern returns a map equal to m that an object of this transaction
// already holds, or m itself, remembered for the next objects.
func (l *labelSets) intern(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	job := m[structs.LabelJob]
	for _, r := range l.recent {
		// Maps of other jobs differ in the job label: one lookup tells,
		// where maps.Equal, walking in random order, often took three.
		if r != nil && len(r) == len(m) && r[structs.LabelJob] == job && maps.Equal(r, m) {
			return r
		}
	}
	l.recent[l.next] = m
	l.next = (l.next + 1) % len(l.recent)
	return m
}

// internObject shares an object's label and selector maps.
func (l *labelSets) internObject(obj structs.Object) {
	m := obj.Metadata()
	m.Labels = l.intern(m.Labels)
	switch o := obj.(type) {
	case *structs.ReplicaSet:
		o.Selector = l.intern(o.Selector)
	case *structs.Service:
		o.Selector = l.intern(o.Selector)
	}
}
