package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/gossip"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestClientOnlyAgents runs one server agent and two client-only agents as
// real processes. The clients register, join the servers' gossip pool by
// themselves, and forward the API to the servers; pod logs reach the pod's
// client from any agent; a client killed with SIGKILL fails in Serf, its
// node goes down and its pod is replaced on the other client.
func TestClientOnlyAgents(t *testing.T) {
	// Mostly waiting out the default heartbeat grace: run beside the others.
	t.Parallel()
	servers := testutil.NewProcessCluster(t, 1)
	srvAddr := servers.Agents[0].HTTPAddr
	c1 := testutil.NewClientOnlyAgent(t, "client-1", srvAddr)
	c2 := testutil.NewClientOnlyAgent(t, "client-2", srvAddr)
	srv := clientAt(t, servers.Agents[0].Addr())
	viaC1, viaC2 := clientAt(t, c1.Addr()), clientAt(t, c2.Addr())

	// Both nodes register through their own agent's API (forwarded).
	nodeIDs := waitReadyNodes(t, viaC1, 2)
	// Both are alive members of the servers' pool, tagged with their node.
	waitMember(t, srv, "client-2", "alive", nodeIDs["client-2"])
	waitMember(t, srv, "client-1", "alive", nodeIDs["client-1"])

	job := testJob("hello", "1")
	job.Meta["mk.scheduler"] = "spread"
	job.Groups[0].Count = 2
	job.Groups[0].Tasks[0].Config = &structs.TaskConfig{Command: "/bin/sh",
		Args: []string{"-c", "echo hello from $MK_POD_NAME; exec sleep 300"}}
	runJob(t, viaC2, job)
	pods := waitPods(t, srv, "hello", 2, running)
	if pods[0].NodeID == pods[1].NodeID {
		t.Fatalf("both pods on node %s, want one per client", pods[0].NodeName)
	}

	// A pod's log from its own agent, from the server, and from the other
	// client (which sends it through the server).
	for _, p := range pods {
		for name, cl := range map[string]*api.Client{"server": srv, "client-1": viaC1, "client-2": viaC2} {
			want := "hello from " + p.Name
			testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
				var buf bytes.Buffer
				if err := cl.PodLogs(context.Background(), p.ID[:8], "", false, false, &buf); err != nil {
					return false, fmt.Errorf("logs of %s via %s: %w", p.Name, name, err)
				}
				return strings.Contains(buf.String(), want), fmt.Errorf("logs of %s via %s: %q", p.Name, name, buf.String())
			})
		}
	}

	// SIGKILL client-2: Serf reports it failed, the node goes down, and its
	// pod is replaced on client-1.
	var orphanPID int
	for _, p := range pods {
		if p.NodeName == "client-2" {
			orphanPID = taskPID(p)
		}
	}
	start := time.Now()
	c2.Kill()
	waitMember(t, srv, "client-2", "failed", nodeIDs["client-2"])
	t.Logf("client-2 failed in serf after %s", time.Since(start))
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		pods, _, err := viaC1.Pods("hello", nil)
		if err != nil {
			return false, err
		}
		n := 0
		for _, p := range pods {
			if running(p) && p.NodeName == "client-1" {
				n++
			}
		}
		return n == 2, fmt.Errorf("%d pods running on client-1", n)
	})
	t.Logf("pod of client-2 replaced after %s", time.Since(start))

	// client-2 comes back: it rejoins the pool and stops its replaced pod.
	c2.Restart()
	waitMember(t, srv, "client-2", "alive", nodeIDs["client-2"])
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		err := syscall.Kill(orphanPID, 0)
		return err != nil, fmt.Errorf("process %d of the replaced pod still runs", orphanPID)
	})
}

// waitMember waits until the agent behind cl sees a Serf member with the
// status and node ID tag.
func waitMember(t *testing.T, cl *api.Client, name, status, nodeID string) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		members, err := cl.Members()
		if err != nil {
			return false, err
		}
		for _, m := range members {
			if m.Name == name {
				ok := m.Status == status && m.Tags[gossip.TagNodeID] == nodeID && m.Tags[gossip.TagRole] == gossip.RoleClient
				return ok, fmt.Errorf("member %s: %s %v", name, m.Status, m.Tags)
			}
		}
		return false, fmt.Errorf("no member %s", name)
	})
}

// TestSerfFailureMarksNodeDownEarly: a node whose heartbeats stop and whose
// Serf member fails is marked down after the grace, long before its TTL.
func TestSerfFailureMarksNodeDownEarly(t *testing.T) {
	const ttl = 60 * time.Second
	c := testutil.NewCluster(t, 1, testutil.ClusterOptions{Configure: func(i int, sc *server.Config) {
		sc.HeartbeatTTL, sc.HeartbeatGrace = ttl, 500*time.Millisecond
	}})
	cl := client(t, c.Nodes[0])
	sim, err := testutil.NewSimNode(c.Nodes[0].Addr(), "gossiper", []string{"exec"}, structs.NodeResources{CPU: 1000, MemoryMB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	member, err := gossip.New(gossip.Config{
		Name: "gossiper", BindAddr: "127.0.0.1", AdvertiseIP: "127.0.0.1", Port: testutil.FreePort(t),
		DataDir: t.TempDir(), Logger: hclog.NewNullLogger(),
		Tags: map[string]string{gossip.TagRole: gossip.RoleClient, gossip.TagDC: "dc1", gossip.TagNodeID: sim.Node.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.Join([]string{c.Nodes[0].Server.SerfAddr()}, false); err != nil {
		t.Fatal(err)
	}
	waitMember(t, cl, "gossiper", "alive", sim.Node.ID)

	start := time.Now()
	sim.Stop()
	_ = member.Shutdown() // no leave: the server's Serf sees it fail
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		n, err := cl.Node(sim.Node.ID, nil)
		if err != nil {
			return false, err
		}
		return n.Status == structs.NodeStatusDown, fmt.Errorf("node is %s", n.Status)
	})
	if took := time.Since(start); took >= ttl/2 {
		t.Fatalf("node marked down after %s: the Serf failure did not shorten its TTL of %s", took, ttl)
	} else {
		t.Logf("node marked down %s after its Serf member failed (TTL %s)", took, ttl)
	}
}

// waitReadyNodes waits until n nodes are ready and returns their IDs by
// name.
func waitReadyNodes(t *testing.T, cl *api.Client, n int) map[string]string {
	t.Helper()
	ids := map[string]string{}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		nodes, _, err := cl.Nodes(nil)
		if err != nil {
			return false, err
		}
		clear(ids)
		for _, node := range nodes {
			if node.Status == structs.NodeStatusReady {
				ids[node.Name] = node.ID
			}
		}
		return len(ids) == n, fmt.Errorf("ready nodes %v, want %d", ids, n)
	})
	return ids
}
