package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// portsJob has two pods that both want static port 9090, and a dynamic
// port; its task prints the ports it was given, then sleeps.
const portsJob = `
job "ports" {
  group "web" {
    count = 2
    network {
      port "http" {
        static = 9090
      }
      port "dyn" {}
    }
    task "echo" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo port=$MK_PORT_http addr=$MK_ADDR_http ip=$MK_IP dyn=$MK_PORT_dyn; exec sleep 300"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
`

// TestStaticPortsOnOneNode runs a group of count 2 with a static port on a
// one-node agent: one pod runs and its task gets its ports in MK_PORT_*,
// MK_ADDR_* and MK_IP; the other waits with the scheduler's reason. Once
// the running pod is stopped, its port is free: another pod runs with it.
func TestStaticPortsOnOneNode(t *testing.T) {
	cl := clientAt(t, devAgent(t))
	job, err := jobspecs.Parse("ports.hcl", []byte(portsJob), jobspecs.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runJob(t, cl, job)
	const reason = "port 9090 already in use on 1 node"
	waiting := func(p *structs.Pod) bool {
		return p.NodeID == "" && p.DesiredStatus == structs.PodDesiredRun && p.PendingReason == reason
	}
	first := waitPods(t, cl, "ports", 1, running)[0]
	waitPods(t, cl, "ports", 1, waiting)

	ports := map[string]int{}
	for _, p := range first.Ports {
		ports[p.Label] = p.Value
	}
	if ports["http"] != 9090 || ports["dyn"] < structs.DefaultMinDynamicPort || ports["dyn"] > structs.DefaultMaxDynamicPort {
		t.Fatalf("pod %s got ports %v, want http 9090 and dyn in the default range", first.Name, ports)
	}
	// A bridge-mode pod (the default) listens in its own namespace, on
	// its IP: the static port's `to` is the node port, a dynamic port
	// without `to` the node port the scheduler chose.
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		p, err := cl.Pod(first.ID, nil)
		if err != nil || p.IP == "" {
			return false, fmt.Errorf("pod %s has no IP yet (%v)", first.Name, err)
		}
		want := fmt.Sprintf("port=9090 addr=%s:9090 ip=%s dyn=%d\n", p.IP, p.IP, ports["dyn"])
		var out bytes.Buffer
		if err := cl.PodLogs(context.Background(), first.ID, "echo", false, false, &out); err != nil {
			return false, err
		}
		return strings.Contains(out.String(), want), fmt.Errorf("log %q, want %q", out.String(), want)
	})

	if err := cl.StopPod(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	// The stopped pod freed the port: another pod of the group (its
	// replacement or the waiting one, whichever the scheduler looks at
	// first) runs with it, and the last one waits.
	next := waitPods(t, cl, "ports", 1, func(p *structs.Pod) bool { return p.ID != first.ID && running(p) })[0]
	if len(next.Ports) == 0 || next.Ports[0].Value != 9090 {
		t.Fatalf("pod %s runs with ports %+v, want 9090", next.Name, next.Ports)
	}
	waitPods(t, cl, "ports", 1, waiting)
}
