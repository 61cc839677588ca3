package state

import (
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// TestKeepRolloutState: a register keeps the rollout's state while its
// target replica set stays (the progress clock included), and only the
// stable version once the target changes.
func TestKeepRolloutState(t *testing.T) {
	job := &structs.Job{Groups: []*structs.TaskGroup{{Name: "g"}}}
	old := &structs.Deployment{Group: "g", ReplicaSetID: "rs1", Status: structs.DeploymentStatusRunning, StatusDescription: "1 of 3",
		Promoted: true, StartTime: 10, ProgressTime: 20, StableReplicaSetID: "rs0", StableVersion: 3, Replicas: 3}
	same := &structs.Deployment{Group: "g", ReplicaSetID: "rs1", Replicas: 3}
	KeepRolloutState(same, old, job)
	if same.Status != old.Status || !same.Promoted || same.StartTime != 10 || same.ProgressTime != 20 || same.StableVersion != 3 {
		t.Fatalf("same target: %+v", same)
	}
	next := &structs.Deployment{Group: "g", ReplicaSetID: "rs2", Replicas: 3}
	KeepRolloutState(next, old, job)
	if next.Status != "" || next.Promoted || next.StartTime != 0 || next.ProgressTime != 0 || next.StableReplicaSetID != "rs0" {
		t.Fatalf("new target: %+v", next)
	}
}
