package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestClientPartition runs two client-only agents on two hosts (network
// namespaces linked to the test's by veth pairs) and a server on an
// address both reach. A network partition of one host makes the servers
// mark its node down and replace its pod on the other host; when the
// partition heals, the node comes back and stops the pod that was
// replaced, so no pod runs twice.
func TestClientPartition(t *testing.T) {
	// Mostly waiting out the default heartbeat grace: run beside the others.
	t.Parallel()
	const serverIP = "10.201.0.1"
	testutil.LoopbackAddr(t, serverIP)
	testutil.Forwarding(t)
	hostA, hostB := testutil.NewHost(t, 1), testutil.NewHost(t, 2)
	servers := testutil.NewProcessClusterAt(t, 1, serverIP)
	srvAddr := servers.Agents[0].HTTPAddr
	testutil.StartClientOnly(t, testutil.ClientOnlyOptions{Name: "client-a", Servers: []string{srvAddr}, BindAddr: hostA.IP, NetNS: hostA.NS})
	testutil.StartClientOnly(t, testutil.ClientOnlyOptions{Name: "client-b", Servers: []string{srvAddr}, BindAddr: hostB.IP, NetNS: hostB.NS})
	srv := clientAt(t, servers.Agents[0].Addr())
	nodeIDs := waitReadyNodes(t, srv, 2)
	waitMember(t, srv, "client-a", "alive", nodeIDs["client-a"])
	waitMember(t, srv, "client-b", "alive", nodeIDs["client-b"])

	job := sleeperJob("part", 2)
	job.Meta["mk.scheduler"] = "spread"
	runJob(t, srv, job)
	pods := waitPods(t, srv, "part", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })
	var onA *structs.Pod
	for _, p := range pods {
		if p.NodeName == "client-a" {
			onA = p
		}
	}
	if onA == nil {
		t.Fatalf("no pod on client-a: %v and %v", pods[0].NodeName, pods[1].NodeName)
	}

	start := time.Now()
	hostA.Partition()
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		list, _, err := srv.Pods("part", nil)
		if err != nil {
			return false, err
		}
		onB := 0
		for _, p := range list {
			if running(p) && p.NodeName == "client-b" {
				onB++
			}
		}
		return onB == 2, fmt.Errorf("%d pods running on client-b", onB)
	})
	t.Logf("pod of the partitioned host replaced after %s", time.Since(start))
	// Cut off, client-a cannot know: its task still runs.
	if err := syscall.Kill(taskPID(onA), 0); err != nil {
		t.Fatalf("task of client-a ended during the partition: %v", err)
	}

	hostA.Heal()
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		n, err := srv.Node(nodeIDs["client-a"], nil)
		if err != nil {
			return false, err
		}
		return n.Status == structs.NodeStatusReady, fmt.Errorf("client-a is %s", n.Status)
	})
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		err := syscall.Kill(taskPID(onA), 0)
		return err != nil, fmt.Errorf("task %d of the replaced pod still runs on client-a", taskPID(onA))
	})
	list, _, err := srv.Pods("part", nil)
	if err != nil {
		t.Fatal(err)
	}
	runningPods := 0
	for _, p := range list {
		if running(p) {
			runningPods++
		}
	}
	if runningPods != 2 {
		t.Fatalf("%d pods running after the partition healed, want 2", runningPods)
	}
	t.Logf("healed; the replaced pod stopped after %s", time.Since(start))
}
