package state

import (
	"fmt"

	"github.com/mk-orchestrator/mk/structs"
)

// keyIndexer is a memdb index over a tuple of strings taken from an object
// by a typed function, so no index reads fields by reflection (memdb's
// StringFieldIndex does, and the register benchmark's profile showed it).
// Each component is terminated by a NUL, as memdb's compound indexes do; a
// prefix query leaves the last given component open.
type keyIndexer struct {
	// key returns the components of obj's key, or false when obj has none.
	key func(obj any) (keyParts, bool)
	// arity is the number of components of a full key.
	arity int
}

// keyParts are the components of a key, returned by value so that taking
// them from an object allocates nothing.
type keyParts struct {
	s [3]string
	n int
}

func parts(components ...string) keyParts {
	var k keyParts
	if len(components) > len(k.s) {
		// A schema error that every test of the index would hit.
		panic(fmt.Sprintf("index key of %d components; keyParts holds %d", len(components), len(k.s)))
	}
	k.n = copy(k.s[:], components)
	return k
}

// encodeKey joins the components into a key in one allocation (the
// memdb inserts of a register build about 30 keys on every server).
func encodeKey(parts []string, openLast bool) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		b = append(b, p...)
		if !openLast || i < len(parts)-1 {
			b = append(b, 0)
		}
	}
	return b
}

// FromObject implements memdb.SingleIndexer.
func (k *keyIndexer) FromObject(obj any) (bool, []byte, error) {
	p, ok := k.key(obj)
	if !ok {
		return false, nil, nil
	}
	return true, encodeKey(p.s[:p.n], false), nil
}

// FromArgs implements memdb.Indexer: every component must be given.
func (k *keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != k.arity {
		return nil, fmt.Errorf("index needs %d arguments, got %d", k.arity, len(args))
	}
	return encodeArgs(args, false)
}

// PrefixFromArgs implements memdb.PrefixIndexer.
func (k *keyIndexer) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) == 0 || len(args) > k.arity {
		return nil, fmt.Errorf("prefix needs 1 to %d arguments, got %d", k.arity, len(args))
	}
	return encodeArgs(args, true)
}

// encodeArgs is encodeKey for the arguments of a query: strings, or
// versions (uint64) written as versionKey writes them.
func encodeArgs(args []any, openLast bool) ([]byte, error) {
	n := len(args)
	for i, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case uint64:
			n += versionKeyLen
		default:
			return nil, fmt.Errorf("index argument %d is %T, want a string", i, a)
		}
	}
	b := make([]byte, 0, n)
	for i, a := range args {
		switch v := a.(type) {
		case string:
			b = append(b, v...)
		case uint64:
			b = appendVersion(b, v)
		}
		if !openLast || i < len(args)-1 {
			b = append(b, 0)
		}
	}
	return b, nil
}

// versionKeyLen is the length of an encoded version: the digits of the
// largest uint64.
const versionKeyLen = 20

// versionKey encodes a version so keys sort numerically: 20 digits, zero
// padded.
func versionKey(v uint64) string {
	return string(appendVersion(make([]byte, 0, versionKeyLen), v))
}

func appendVersion(b []byte, v uint64) []byte {
	var d [versionKeyLen]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}

// Indexers of the schema.
var (
	// byNamespaceID keys every stored object by (namespace, ID).
	byNamespaceID = &keyIndexer{arity: 2, key: func(obj any) (keyParts, bool) {
		m := obj.(structs.Object).Metadata()
		return parts(m.Namespace, m.ID), true
	}}
	// byNamespaceJobID keys the objects of job-scoped tables by
	// (namespace, job ID, ID).
	byNamespaceJobID = &keyIndexer{arity: 3, key: func(obj any) (keyParts, bool) {
		m := obj.(structs.Object).Metadata()
		return parts(m.Namespace, jobIDOf(obj), m.ID), true
	}}
	// byVersion keys job versions by (namespace, ID, version).
	byVersion = &keyIndexer{arity: 3, key: func(obj any) (keyParts, bool) {
		j := obj.(*structs.Job)
		return parts(j.Namespace, j.ID, versionKey(j.Version)), true
	}}
	// byJob keys derived objects by (namespace, job ID).
	byJob = &keyIndexer{arity: 2, key: func(obj any) (keyParts, bool) {
		id := jobIDOf(obj)
		return parts(obj.(structs.Object).Metadata().Namespace, id), id != ""
	}}
	// byPodNode keys placed pods by node ID.
	byPodNode = &keyIndexer{arity: 1, key: func(obj any) (keyParts, bool) {
		p := obj.(*structs.Pod)
		return parts(p.NodeID), p.NodeID != ""
	}}
	// byClientModifyIndex keys the pods a client has reported on by the
	// index of its last report, so controllers find the pods clients
	// changed since their last pass. Pods no client has reported on yet
	// (pending ones, just placed ones) have no entry: a register's pods
	// cost no insert here.
	byClientModifyIndex = &keyIndexer{arity: 1, key: func(obj any) (keyParts, bool) {
		p := obj.(*structs.Pod)
		if p.ClientModifyIndex == 0 {
			return keyParts{}, false
		}
		return parts(versionKey(p.ClientModifyIndex)), true
	}}
	// byUnplaced keys the pods that should run and have no node yet by the
	// index that created them: pods are listed oldest first, and new keys
	// land next to each other (keyed by the random pod ID, every insert
	// copied a fresh path through the radix tree: 5x the cost).
	byUnplaced = &keyIndexer{arity: 1, key: func(obj any) (keyParts, bool) {
		p := obj.(*structs.Pod)
		if p.NodeID != "" || p.DesiredStatus != structs.PodDesiredRun || p.Terminal() {
			return keyParts{}, false
		}
		return parts(versionKey(p.CreateIndex)), true
	}}
	// byIndexKey keys the index table by table name.
	byIndexKey = &keyIndexer{arity: 1, key: func(obj any) (keyParts, bool) {
		return parts(obj.(*IndexEntry).Key), true
	}}
)
