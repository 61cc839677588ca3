package plugin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
	"github.com/mk-orchestrator/mk/structs"
)

// TestTaskConfigRoundTrip: every field of a task config, mounts included,
// comes back the same from its protobuf form.
func TestTaskConfigRoundTrip(t *testing.T) {
	want := &drivers.TaskConfig{
		ID: "pod-1/web", PodID: "pod-1", Name: "web",
		Task:   &structs.Task{Name: "web", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"}},
		NodeID: "node-1", JobID: "job-1", GPUs: []string{"0", "3"},
		TaskDir: "/data/pods/pod-1/web", StdoutPath: "/logs/out", StderrPath: "/logs/err", NetNSPath: "/run/netns/pod-1", ResolvConfPath: "/data/pods/pod-1/resolv.conf",
		Mounts: []*drivers.MountConfig{
			{Volume: "shared", HostPath: "/data/pods/pod-1/volumes/shared", TaskPath: "/srv"},
			{Volume: "certs", HostPath: "/etc/ssl/certs", TaskPath: "/certs", ReadOnly: true},
		},
	}
	// A field added to TaskConfig or MountConfig must be carried too.
	if n := reflect.TypeOf(drivers.TaskConfig{}).NumField(); n != 13 {
		t.Fatalf("TaskConfig has %d fields: convert the new one and set it here", n)
	}
	if n := reflect.TypeOf(drivers.MountConfig{}).NumField(); n != 4 {
		t.Fatalf("MountConfig has %d fields: convert the new one and set it here", n)
	}
	pbc, err := taskConfigToProto(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := taskConfigFromProto(pbc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip = %+v, want %+v", got, want)
	}
	// A task status's details cross the plugin too.
	st := &pb.InspectTaskResponse{Id: "p/t", State: drivers.TaskStatePending, Details: map[string]string{"slurm_job_id": "12", "reason": "Resources"}}
	if got := statusFromProto(st); got.State != drivers.TaskStatePending || !reflect.DeepEqual(got.Details, st.Details) {
		t.Fatalf("status = %+v, want pending with details %v", got, st.Details)
	}
	noMounts := &drivers.TaskConfig{ID: "p/t"}
	pbc, _ = taskConfigToProto(noMounts)
	if got, _ := taskConfigFromProto(pbc); got.Mounts != nil {
		t.Fatalf("mounts of a task without any = %v, want nil", got.Mounts)
	}
}

// TestErrorKindsCrossThePlugin: the driver errors the client tells apart
// come back as the same kinds from their gRPC status.
func TestErrorKindsCrossThePlugin(t *testing.T) {
	for _, kind := range []error{drivers.ErrTaskNotFound, drivers.ErrTaskRunning, drivers.ErrNotSupported, context.DeadlineExceeded} {
		err := fromStatus(toStatus(fmt.Errorf("op: %w", kind)))
		if !errors.Is(err, kind) {
			t.Errorf("%v came back as %v", kind, err)
		}
	}
}
