// Package e2e holds tests that run whole mk clusters: in-process servers on
// loopback for the fault and linearizability tests, and the built binary
// for the CLI tests.
package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// testJob is a small valid service job whose Meta["v"] carries a value the
// tests write and read back.
func testJob(name, value string) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Type:       structs.JobTypeService,
		Meta:       map[string]string{"v": value},
		Groups: []*structs.TaskGroup{{
			Name:  "app",
			Count: 1,
			Tasks: []*structs.Task{{
				Name:      "main",
				Driver:    "exec",
				Config:    &structs.TaskConfig{Command: "/bin/sleep", Args: []string{"3600"}},
				Resources: &structs.Resources{CPU: 100, MemoryMB: 64},
			}},
		}},
	}
}

func client(t testing.TB, n *testutil.Node) *api.Client {
	t.Helper()
	return clientAt(t, n.Addr())
}

func clientAt(t testing.TB, addr string) *api.Client {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: addr, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// register writes a job through node n.
func register(t testing.TB, n *testutil.Node, name, value string) error {
	_, err := client(t, n).RegisterJob(context.Background(), &structs.JobRegisterBody{Job: testJob(name, value)})
	return err
}

// registerRetry retries a register on every alive node until one acks it.
func registerRetry(t testing.TB, c *testutil.Cluster, name, value string, deadline time.Duration) {
	t.Helper()
	i := 0
	testutil.WaitFor(t, deadline, func() (bool, error) {
		alive := c.Alive()
		n := c.Nodes[alive[i%len(alive)]]
		i++
		err := register(t, n, name, value)
		return err == nil, err
	})
}

// staleValue reads a job's Meta["v"] from node n's own state.
func staleValue(t testing.TB, n *testutil.Node, name string) (string, error) {
	job, _, err := client(t, n).Job(name, &api.QueryOptions{Stale: true})
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return job.Meta["v"], nil
}

// waitAllHave waits until every alive node's local state has every
// acknowledged write.
func waitAllHave(t testing.TB, c *testutil.Cluster, acked map[string]string, deadline time.Duration) {
	t.Helper()
	for _, i := range c.Alive() {
		n := c.Nodes[i]
		testutil.WaitFor(t, deadline, func() (bool, error) {
			for name, want := range acked {
				got, err := staleValue(t, n, name)
				if err != nil {
					return false, err
				}
				if got != want {
					return false, fmt.Errorf("%s: job %s = %q, want %q", n.Config.NodeName, name, got, want)
				}
			}
			return true, nil
		})
	}
}

// stateHash is a digest of a node's whole state store, via its snapshot
// encoding (deterministic: tables sorted, rows in index order).
func stateHash(t testing.TB, n *testutil.Node) string {
	t.Helper()
	h := sha256.New()
	if err := n.Server.State().Snapshot().Persist(h); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
