package structs_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mk-orchestrator/mk/structs"
)

var updateWire = flag.Bool("update-wire", false, "rewrite testdata/wire (only for a deliberate change of the log or snapshot format)")

// wireValues are the values that go into Raft log entries and snapshots,
// every field set (fill), and each also empty.
func wireValues() map[string]any {
	full := map[string]any{}
	for _, v := range []any{
		&structs.JobRegisterRequest{}, &structs.JobDeregisterRequest{}, &structs.NodeRegisterRequest{},
		&structs.NodeStatusRequest{}, &structs.NodeSchedulingRequest{}, &structs.PodsUpsertRequest{},
		&structs.PodStatusRequest{}, &structs.PodsDeleteRequest{}, &structs.JobRegisterResponse{},
		&structs.ReplicaSetsUpdateRequest{}, &structs.EndpointsUpdateRequest{}, &structs.NodePurgeRequest{},
		&structs.DeploymentUpdateRequest{}, &structs.JobScaleRequest{}, &structs.EventsRecordRequest{}, &structs.JobEvents{},
		&structs.Job{}, &structs.Pod{}, &structs.Node{}, &structs.Deployment{}, &structs.ReplicaSet{},
		&structs.Service{}, &structs.Autoscaler{}, &structs.Ingress{}, &structs.Endpoints{},
	} {
		name := reflect.TypeOf(v).Elem().Name()
		full[name+"-empty"] = reflect.New(reflect.TypeOf(v).Elem()).Interface()
		f := &filler{}
		f.fill(reflect.ValueOf(v).Elem(), 0)
		full[name] = v
	}
	return full
}

// TestGeneratedCodecWireFormat checks that the generated msgpack code
// (structs.generated.go, scripts/codecgen.sh) reads and writes what the
// reflection codec did: the files under testdata/wire were written by
// the reflection codec before the generated code existed, so servers of
// either kind read each other's log entries and snapshots.
func TestGeneratedCodecWireFormat(t *testing.T) {
	dir := filepath.Join("testdata", "wire")
	for name, want := range wireValues() {
		t.Run(name, func(t *testing.T) {
			logPath := filepath.Join(dir, name+".log.msgpack")
			snapPath := filepath.Join(dir, name+".snapshot.msgpack")
			entry, err := structs.Encode(structs.JobRegisterRequestType, want)
			if err != nil {
				t.Fatal(err)
			}
			var canonical bytes.Buffer
			if err := structs.NewEncoder(&canonical).Encode(want); err != nil {
				t.Fatal(err)
			}
			// The generated code must know every field: a field added to a
			// type without regenerating would be dropped from the log.
			roundTrip := reflect.New(reflect.TypeOf(want).Elem()).Interface()
			if err := structs.Decode(entry[1:], roundTrip); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(want, roundTrip); diff != "" {
				t.Fatalf("structs.generated.go is out of date (run go generate ./structs); a round trip loses (-want +got):\n%s", diff)
			}
			if *updateWire {
				writeFile(t, logPath, entry[1:])
				writeFile(t, snapPath, canonical.Bytes())
				return
			}
			// Log entries: maps are written in Go's random order, so
			// compare what the stored bytes decode to.
			old := reflect.New(reflect.TypeOf(want).Elem()).Interface()
			if err := structs.Decode(readFile(t, logPath), old); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(want, old); diff != "" {
				t.Fatalf("a stored log entry decodes differently (-want +got):\n%s", diff)
			}
			// Snapshots are canonical: the same bytes.
			stored := readFile(t, snapPath)
			if !bytes.Equal(stored, canonical.Bytes()) {
				t.Fatalf("snapshot encoding changed:\nstored %x\nnow    %x", stored, canonical.Bytes())
			}
			got := reflect.New(reflect.TypeOf(want).Elem()).Interface()
			if err := structs.NewDecoder(bytes.NewReader(stored)).Decode(got); err != nil {
				t.Fatalf("decode snapshot row: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("snapshot row decodes differently (-want +got):\n%s", diff)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./structs -run TestGeneratedCodecWireFormat -update-wire only for a deliberate format change)", err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// filler sets every field of a value to a distinct non-zero value, so a
// field the codec drops or renames shows up in the comparison.
type filler struct{ n int }

func (f *filler) fill(v reflect.Value, depth int) {
	f.n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.n) + 0.5)
	case reflect.Pointer:
		if depth > 8 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if depth > 8 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			f.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 8 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}
