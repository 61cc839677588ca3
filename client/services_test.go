package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

func serviceJob(name string) *structs.Job {
	return &structs.Job{ObjectMeta: structs.ObjectMeta{Name: name}, Groups: []*structs.TaskGroup{{Name: "g", Count: 1,
		Network:  &structs.NetworkSpec{Ports: []*structs.Port{{Label: "http", To: 8080}}},
		Services: []*structs.ServiceSpec{{Name: name, Port: "http"}},
		Tasks: []*structs.Task{{Name: "t", Driver: "exec", Config: &structs.TaskConfig{Command: "/bin/true"},
			Resources: &structs.Resources{CPU: 100, MemoryMB: 32}}}}}}
}

// TestServiceSourceMergesEndpointChanges: the source the proxy and node
// DNS watch through hands on the whole list each time, built from the
// changes since its last call: a new service's row appears, a stopped
// job's row goes, the others stay.
func TestServiceSourceMergesEndpointChanges(t *testing.T) {
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{})
	cl, err := api.NewClient(api.Config{Address: c.Nodes[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	src := NewServiceSource(cl)
	ctx := context.Background()
	var index uint64
	// next waits for the list to hold exactly want, watching as the
	// proxy does (each call blocks past the last index).
	next := func(want string) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			l, idx, err := src.Endpoints(ctx, index)
			if err != nil {
				return false, err
			}
			index = idx
			var ids []string
			for _, e := range l {
				ids = append(ids, e.ID)
			}
			return fmt.Sprint(ids) == want, fmt.Errorf("endpoints of %v, want %s", ids, want)
		})
	}
	for _, name := range []string{"a", "c"} {
		if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: serviceJob(name)}); err != nil {
			t.Fatal(err)
		}
	}
	next("[a c]")
	if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: serviceJob("b")}); err != nil {
		t.Fatal(err)
	}
	next("[a b c]")
	if _, err := cl.DeregisterJob(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	next("[b c]")
}
