package state

import (
	"bytes"
	"fmt"
	"math"
	"testing"
)

func TestVersionKeySortsNumerically(t *testing.T) {
	values := []uint64{0, 1, 9, 10, 99, 100, 12345, 1 << 40, math.MaxUint64 - 1, math.MaxUint64}
	for i, v := range values {
		if got, want := versionKey(v), fmt.Sprintf("%020d", v); got != want {
			t.Errorf("versionKey(%d) = %q, want %q", v, got, want)
		}
		if i > 0 && versionKey(values[i-1]) >= versionKey(v) {
			t.Errorf("versionKey(%d) does not sort before versionKey(%d)", values[i-1], v)
		}
	}
}

func TestKeyIndexerKeys(t *testing.T) {
	k := &keyIndexer{arity: 3}
	full, err := k.FromArgs("default", "web", "web-g")
	if err != nil || !bytes.Equal(full, []byte("default\x00web\x00web-g\x00")) {
		t.Fatalf("FromArgs: %q, %v", full, err)
	}
	prefix, err := k.PrefixFromArgs("default", "we")
	if err != nil || !bytes.Equal(prefix, []byte("default\x00we")) {
		t.Fatalf("PrefixFromArgs: %q, %v", prefix, err)
	}
	if !bytes.HasPrefix(full, prefix) {
		t.Fatalf("key %q does not start with prefix %q", full, prefix)
	}
	if _, err := k.FromArgs("default", "web"); err == nil {
		t.Fatal("FromArgs with 2 of 3 components: no error")
	}
	if _, err := k.FromArgs("default", 3, "x"); err == nil {
		t.Fatal("FromArgs with an int component: no error")
	}
	ok, obj, err := byIndexKey.FromObject(&IndexEntry{Key: "jobs"})
	if !ok || err != nil || !bytes.Equal(obj, []byte("jobs\x00")) {
		t.Fatalf("FromObject: %v %q %v", ok, obj, err)
	}
}
