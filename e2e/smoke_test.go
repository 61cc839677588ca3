package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func TestSmoke(t *testing.T) {
	c := testutil.NewCluster(t, 3, testutil.ClusterOptions{})
	cl, _ := api.NewClient(api.Config{Address: c.Nodes[(c.Leader()+1)%3].Addr()})
	job := &structs.Job{ObjectMeta: structs.ObjectMeta{Name: "web"}, Groups: []*structs.TaskGroup{{Name: "g", Count: 1,
		Tasks: []*structs.Task{{Name: "t", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"}, Resources: &structs.Resources{CPU: 100, MemoryMB: 64}}}}}}
	start := time.Now()
	resp, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("register %v %+v", time.Since(start), resp)
	got, _, err := cl.Job("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", got)
	objs, err := cl.JobObjects("web", nil)
	if err != nil || len(objs.ReplicaSets) != 1 {
		t.Fatal(err, objs)
	}
}
