package fsm

import (
	"errors"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// TestApplyJobScale: a scale sets the group's deployment count without a
// new job version; a register of a scaling group keeps it (clamped), one
// without scaling takes the job's count; bad requests change nothing.
func TestApplyJobScale(t *testing.T) {
	f := newFSM(t)
	scaled := job("web", 2)
	scaled.Groups[0].Scaling = &structs.ScalingPolicy{Min: 1, Max: 4, CPUPercent: 50}
	f.Apply(registerLog(t, 1, scaled))
	batch := job("batch", 1)
	batch.Type = structs.JobTypeBatch
	f.Apply(registerLog(t, 2, batch))
	plain := job("plain", 1)
	f.Apply(registerLog(t, 3, plain))

	index := uint64(10)
	scale := func(jobID, group string, count int) any {
		index++
		return f.Apply(logOf(t, index, structs.JobScaleRequestType, &structs.JobScaleRequest{
			Namespace: structs.DefaultNamespace, JobID: jobID, Group: group, Count: count, Source: structs.ScaleSourceUser, Time: 1}))
	}
	replicas := func(jobID string) int {
		t.Helper()
		objs, err := f.State().WorkloadsByJob(structs.DefaultNamespace, jobID)
		if err != nil || len(objs.Deployments) != 1 {
			t.Fatalf("deployments of %s: %+v, %v", jobID, objs, err)
		}
		return objs.Deployments[0].Replicas
	}

	resp := scale("web", "g", 4)
	if r, ok := resp.(*structs.JobScaleResponse); !ok || r.Previous != 2 || r.Index != index {
		t.Fatalf("scale web to 4: %#v", resp)
	}
	if got := replicas("web"); got != 4 {
		t.Fatalf("web replicas %d, want 4", got)
	}
	if j, _ := f.State().JobByID(nil, structs.DefaultNamespace, "web"); j.Version != 0 {
		t.Fatalf("a scale made version %d; want the job's version kept", j.Version)
	}
	if r := scale("plain", "g", 7); r.(*structs.JobScaleResponse).Previous != 1 || replicas("plain") != 7 {
		t.Fatalf("scale plain: %#v, replicas %d", r, replicas("plain"))
	}

	bad := []struct {
		name         string
		job, group   string
		count        int
		kind         error
		wantFragment string
	}{
		{"no job", "nope", "g", 1, structs.ErrNotFound, `job "nope" not found`},
		{"no group", "web", "h", 1, structs.ErrNotFound, `group "h" of job "web" not found`},
		{"batch job", "batch", "g", 2, structs.ErrBadRequest, `job "batch" is a batch job`},
		{"negative", "plain", "g", -1, structs.ErrBadRequest, `count of group "g" must be >= 0, got -1`},
		{"above max", "web", "g", 5, structs.ErrBadRequest, `count of group "g" must be between its scaling.min (1) and scaling.max (4), got 5`},
		{"below min", "web", "g", 0, structs.ErrBadRequest, `scaling.min (1)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err, ok := scale(tc.job, tc.group, tc.count).(error)
			if !ok || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.wantFragment) {
				t.Fatalf("got %v; want %v containing %q", err, tc.kind, tc.wantFragment)
			}
		})
	}
	if replicas("web") != 4 || replicas("plain") != 7 {
		t.Fatalf("refused scales changed counts: web %d, plain %d", replicas("web"), replicas("plain"))
	}

	// A register of a new version keeps a scaling group's count (within
	// the new bounds), and gives a group without scaling the job's count.
	scaled2 := job("web", 2)
	scaled2.Groups[0].Scaling = &structs.ScalingPolicy{Min: 1, Max: 3, CPUPercent: 50}
	f.Apply(registerLog(t, 30, scaled2))
	if got := replicas("web"); got != 3 {
		t.Fatalf("web replicas after a register with max 3: %d, want 3", got)
	}
	plain2 := job("plain", 1)
	plain2.Groups[0].Tasks[0].Config.Args = []string{"v2"}
	f.Apply(registerLog(t, 31, plain2))
	if got := replicas("plain"); got != 1 {
		t.Fatalf("plain replicas after a register: %d, want the job's count 1", got)
	}

	// A stopped job does not scale.
	f.Apply(logOf(t, 32, structs.JobDeregisterRequestType, &structs.JobDeregisterRequest{Namespace: structs.DefaultNamespace, JobID: "plain"}))
	if err, ok := scale("plain", "g", 2).(error); !ok || !errors.Is(err, structs.ErrBadRequest) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("scale of a stopped job: %v", err)
	}
}
