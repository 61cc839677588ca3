package fsm

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/mk-orchestrator/mk/structs"
)

// BenchmarkApplyRegister measures the FSM's share of a job register:
// decoding the entry and writing the job with its objects, in batches of
// 32 as raft hands them over under load.
func BenchmarkApplyRegister(b *testing.B) {
	f, _ := New(nullLogger())
	var logs []*raft.Log
	for i := 0; i < b.N; i++ {
		j := job(fmt.Sprintf("job-%d", i), 3)
		j.Groups[0].Network = &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}}
		j.Groups[0].Services = []*structs.ServiceSpec{{Name: j.Name, Port: "http"}}
		l := registerLog(b, uint64(i+1), j)
		logs = append(logs, l)
	}
	b.ResetTimer()
	for i := 0; i < len(logs); i += 32 {
		end := min(i+32, len(logs))
		for _, r := range f.ApplyBatch(logs[i:end]) {
			if err, ok := r.(error); ok {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkApplyRegisterWithPods is the FSM's whole share of a register in
// the register benchmark: the job's entry, and its 3 pending pods written
// by a controller pass that gathers the pods of 16 jobs in one entry, the
// entries applied in batches of 32.
func BenchmarkApplyRegisterWithPods(b *testing.B) {
	f, _ := New(nullLogger())
	const jobsPerPass = 16
	var logs []*raft.Log
	index := uint64(0)
	var pending []*structs.Pod
	for i := 0; i < b.N; i++ {
		j := job(fmt.Sprintf("w64-%d-%d", i%64, i/64), 3)
		j.Groups[0].Network = &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}}
		j.Groups[0].Services = []*structs.ServiceSpec{{Name: j.Name, Port: "http"}}
		index++
		logs = append(logs, registerLog(b, index, j))
		for k := 0; k < 3; k++ {
			pending = append(pending, &structs.Pod{
				ObjectMeta: structs.ObjectMeta{ID: benchPodID(), Name: fmt.Sprintf("%s.g[%d]", j.ID, k), Namespace: j.Namespace,
					Labels: map[string]string{structs.LabelJob: j.ID, structs.LabelGroup: "g", structs.LabelJobType: j.Type}},
				JobID: j.ID, Group: "g", OwnerKind: structs.OwnerReplicaSet, OwnerID: j.ID + "-g",
				Resources: &structs.Resources{CPU: 100, MemoryMB: 32}, DesiredStatus: structs.PodDesiredRun,
				Phase: structs.PodPhasePending, PendingReason: "no ready nodes", CreateTime: 1, ModifyTime: 1,
			})
		}
		if len(pending) == 3*jobsPerPass || i == b.N-1 {
			index++
			logs = append(logs, logOf(b, index, structs.PodsUpsertRequestType, &structs.PodsUpsertRequest{Pods: pending}))
			pending = nil
		}
	}
	b.ResetTimer()
	batch := 32
	if v, err := strconv.Atoi(os.Getenv("MK_FSM_BATCH")); err == nil {
		batch = v
	}
	for i := 0; i < len(logs); i += batch {
		end := min(i+batch, len(logs))
		for _, r := range f.ApplyBatch(logs[i:end]) {
			if err, ok := r.(error); ok {
				b.Fatal(err)
			}
		}
	}
}

var benchPodSeq uint32 = 0x3f2a0000

// benchPodID makes pod IDs as the servers do (server/pod_ids.go: a counter
// in the first 32 bits); MK_RANDOM_IDS=1 makes random ones, to compare.
func benchPodID() string {
	if os.Getenv("MK_RANDOM_IDS") != "" {
		return uuid.NewString()
	}
	u := uuid.New()
	benchPodSeq++
	binary.BigEndian.PutUint32(u[:4], benchPodSeq)
	return u.String()
}
