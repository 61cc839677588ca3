package exec

import (
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// TestTaskEnvGPUs: a task given GPUs sees those and no others
// (CUDA_VISIBLE_DEVICES, over what its env says).
func TestTaskEnvGPUs(t *testing.T) {
	cfg := &drivers.TaskConfig{ID: "p/t", GPUs: []string{"0", "2"},
		Task: &structs.Task{Env: map[string]string{"CUDA_VISIBLE_DEVICES": "5"}}}
	found := false
	for _, kv := range taskEnv(cfg) {
		if strings.HasPrefix(kv, "CUDA_VISIBLE_DEVICES=") {
			found = true
			if kv != "CUDA_VISIBLE_DEVICES=0,2" {
				t.Errorf("%s, want CUDA_VISIBLE_DEVICES=0,2", kv)
			}
		}
	}
	if !found {
		t.Error("no CUDA_VISIBLE_DEVICES")
	}
}
