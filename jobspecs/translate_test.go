package jobspecs

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// An ingress becomes an Ingress object with its rules, and is not part of
// the pod template: changing its rules keeps the replica set (no pod is
// replaced), while a change of a task makes a new one.
func TestTranslateIngress(t *testing.T) {
	job, err := ParseFile("examples/ingress.hcl", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Translate(job)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Ingresses) != 1 {
		t.Fatalf("ingresses %+v, want one", objs.Ingresses)
	}
	in := objs.Ingresses[0]
	if in.ID != "shop-a" || in.Host != "shop.local" || len(in.Rules) != 2 ||
		*in.Rules[0] != (structs.IngressPath{Path: "/a", Service: "shop-a", Port: 8080, StripPrefix: true}) ||
		*in.Rules[1] != (structs.IngressPath{Path: "/b", Service: "shop-b", Port: 8080}) {
		t.Errorf("ingress %+v %+v", in, in.Rules)
	}
	rsID := func(j *structs.Job) string {
		o, err := Translate(j)
		if err != nil {
			t.Fatal(err)
		}
		return o.ReplicaSets[0].ID
	}
	changed := structs.Copy(job)
	changed.Groups[0].Ingress.Paths[0].StripPrefix = false
	changed.Groups[0].Ingress.Host = "shop.example"
	if rsID(changed) != rsID(job) {
		t.Errorf("an ingress change made a new replica set: %s, was %s", rsID(changed), rsID(job))
	}
	changed.Groups[0].Tasks[0].Env = map[string]string{"X": "1"}
	if rsID(changed) == rsID(job) {
		t.Errorf("a task change kept replica set %s", rsID(job))
	}
}
