package state

import (
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// sameMap reports whether two maps are one map, not only equal.
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestObjectsOfOneWriteShareLabelMaps(t *testing.T) {
	s := newStore(t)
	if _, err := s.UpsertJob(10, registerReq(t, testJob("web", 2))); err != nil {
		t.Fatal(err)
	}
	objs, err := s.ObjectsByJob(nil, structs.DefaultNamespace, "web")
	if err != nil {
		t.Fatal(err)
	}
	d, rs, svc := objs.Deployments[0], objs.ReplicaSets[0], objs.Services[0]
	if len(d.Labels) == 0 {
		t.Fatal("deployment has no labels")
	}
	for name, m := range map[string]map[string]string{"replica set labels": rs.Labels, "replica set selector": rs.Selector,
		"service labels": svc.Labels, "service selector": svc.Selector} {
		if !sameMap(d.Labels, m) {
			t.Errorf("%s %v is not the deployment's label map %v", name, m, d.Labels)
		}
	}

	pod := func(id string, labels map[string]string) *structs.Pod {
		return &structs.Pod{ObjectMeta: structs.ObjectMeta{ID: id, Namespace: structs.DefaultNamespace, Labels: labels},
			JobID: "web", Group: "web", OwnerID: rs.ID, DesiredStatus: structs.PodDesiredRun}
	}
	podLabels := func() map[string]string {
		return map[string]string{structs.LabelJob: "web", structs.LabelGroup: "web", structs.LabelJobType: structs.JobTypeService}
	}
	commit(t, s, func(txn *WriteTxn) error {
		return txn.UpsertPods(11, []*structs.Pod{pod("p1", podLabels()), pod("p2", podLabels()),
			pod("p3", map[string]string{structs.LabelJob: "web", structs.LabelGroup: "other"})})
	})
	p1, _ := s.PodByID(nil, structs.DefaultNamespace, "p1")
	p2, _ := s.PodByID(nil, structs.DefaultNamespace, "p2")
	p3, _ := s.PodByID(nil, structs.DefaultNamespace, "p3")
	if !sameMap(p1.Labels, p2.Labels) {
		t.Error("pods with equal labels written together hold two maps")
	}
	if sameMap(p1.Labels, p3.Labels) || p3.Labels[structs.LabelGroup] != "other" {
		t.Errorf("a pod with other labels shares a map: %v", p3.Labels)
	}
	// An update that keeps the labels keeps the stored map.
	commit(t, s, func(txn *WriteTxn) error {
		stopped := pod("p1", podLabels())
		stopped.DesiredStatus = structs.PodDesiredStop
		return txn.UpsertPods(12, []*structs.Pod{stopped})
	})
	after, _ := s.PodByID(nil, structs.DefaultNamespace, "p1")
	if after.DesiredStatus != structs.PodDesiredStop || !sameMap(after.Labels, p1.Labels) {
		t.Errorf("update: desired %s, labels shared with the stored pod: %v", after.DesiredStatus, sameMap(after.Labels, p1.Labels))
	}
}
