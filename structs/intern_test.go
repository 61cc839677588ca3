package structs

import (
	"testing"
	"unsafe"
)

// The generated decoders share the strings of knownStrings instead of
// copying them out of each entry (scripts/codecgen.sh, intern.go).
func TestDecodedKnownStringsAreShared(t *testing.T) {
	pod := &Pod{ObjectMeta: ObjectMeta{ID: "p1", Namespace: DefaultNamespace,
		Labels: map[string]string{LabelJob: "web"}},
		JobID: "web", OwnerKind: OwnerReplicaSet, DesiredStatus: PodDesiredRun, Phase: PodPhasePending}
	buf, err := Encode(PodsUpsertRequestType, &PodsUpsertRequest{Pods: []*Pod{pod, pod}})
	if err != nil {
		t.Fatal(err)
	}
	var req PodsUpsertRequest
	if err := Decode(buf[1:], &req); err != nil {
		t.Fatal(err)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for _, p := range req.Pods {
		for _, f := range []struct{ got, want string }{
			{p.Namespace, DefaultNamespace}, {p.OwnerKind, OwnerReplicaSet},
			{p.DesiredStatus, PodDesiredRun}, {p.Phase, PodPhasePending},
		} {
			if f.got != f.want || !same(f.got, f.want) {
				t.Errorf("decoded %q is a copy of %q, not the shared string", f.got, f.want)
			}
		}
		for k := range p.Labels {
			if !same(k, LabelJob) {
				t.Errorf("label key %q is a copy", k)
			}
		}
	}
}
