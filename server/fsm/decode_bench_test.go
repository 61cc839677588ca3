package fsm

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// BenchmarkDecodeRegister and BenchmarkDecodePod measure what decoding a
// log entry costs every server, apart from applying it.
func BenchmarkDecodeRegister(b *testing.B) {
	j := job("w64-12-345", 3)
	j.Groups[0].Network = &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}}
	j.Groups[0].Services = []*structs.ServiceSpec{{Name: j.Name, Port: "http"}}
	l := registerLog(b, 1, j)
	b.ReportMetric(float64(len(l.Data)), "entry-bytes")
	for b.Loop() {
		var req structs.JobRegisterRequest
		if err := structs.Decode(l.Data[1:], &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePod(b *testing.B) {
	p := &structs.Pod{
		ObjectMeta: structs.ObjectMeta{ID: "019abcde-1234-7abc-8def-0123456789ab", Name: "w64-12-345.g[0]", Namespace: "default",
			Labels: map[string]string{structs.LabelJob: "w64-12-345", structs.LabelGroup: "g", structs.LabelJobType: "service"}},
		JobID: "w64-12-345", Group: "g", OwnerKind: structs.OwnerReplicaSet, OwnerID: "w64-12-345-g",
		Resources: &structs.Resources{CPU: 100, MemoryMB: 32}, DesiredStatus: structs.PodDesiredRun,
		Phase: structs.PodPhasePending, PendingReason: "no ready nodes", CreateTime: 1, ModifyTime: 1,
	}
	l := logOf(b, 1, structs.PodsUpsertRequestType, &structs.PodsUpsertRequest{Pods: []*structs.Pod{p}})
	b.ReportMetric(float64(len(l.Data)), "entry-bytes")
	for b.Loop() {
		var req structs.PodsUpsertRequest
		if err := structs.Decode(l.Data[1:], &req); err != nil {
			b.Fatal(err)
		}
	}
}
