package fsm

import (
	"fmt"
	"testing"

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
