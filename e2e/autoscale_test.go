package e2e

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// autoscaleConfig makes a dev agent sample pod usage and decide every
// second (defaults: 5 s each), without docker.
const autoscaleConfig = `server {
  autoscale_interval = "1s"
}
client {
  enabled        = true
  stats_interval = "1s"
  driver "docker" {
    enabled = false
  }
}
`

// TestAutoscaleUnderLoad runs the autoscale example (busybox httpd whose
// /cgi-bin/burn burns CPU per request) on a dev agent, loads its service
// through the ClusterIP, and checks that it scales out to its max of 3
// ready endpoints, never past it, and back to its min of 1 once the load
// stops, not before its (shortened) scale-down window has passed.
func TestAutoscaleUnderLoad(t *testing.T) {
	addr, _ := testutil.StartDevAgent(t, autoscaleConfig)
	cl := clientAt(t, addr)
	const window = 15 * time.Second
	if stdout, stderr, code := runMk(t, addr, "job", "run", "-var", "scale_up_cooldown=2s",
		"-var", "scale_down_cooldown="+window.String(), "autoscale.hcl"); code != 0 {
		t.Fatalf("mk job run: exit %d\n%s%s", code, stdout, stderr)
	}
	svc, err := cl.Service(structs.DefaultNamespace, "burn", nil)
	if err != nil || svc.ClusterIP == "" || len(svc.Ports) != 1 {
		t.Fatalf("service burn: %+v, %v", svc, err)
	}
	waitAutoscaled(t, cl, "no load", 30*time.Second, 1)

	url := "http://" + net.JoinHostPort(svc.ClusterIP, strconv.Itoa(svc.Ports[0].Port)) + "/cgi-bin/burn"
	load := testutil.StartHTTPLoad(url, 5)
	defer load.Stop()
	started := time.Now()
	waitAutoscaled(t, cl, "under load", 90*time.Second, 3)
	t.Logf("3 ready endpoints %s after the load started", time.Since(started).Round(time.Millisecond))
	load.Stop()
	stopped := time.Now()
	if load.OK.Load() == 0 {
		t.Fatalf("the load got no answer (%d failed)", load.Failed.Load())
	}
	waitAutoscaled(t, cl, "after the load", 120*time.Second, 1)
	took := time.Since(stopped)
	if took < window {
		t.Fatalf("scaled in %s after the load stopped, within the %s scale-down window", took, window)
	}
	t.Logf("back to 1 pod %s after the load stopped (%d requests answered)", took.Round(time.Millisecond), load.OK.Load())
}

// waitAutoscaled waits until the job's deployment wants want pods and
// the service has exactly want ready endpoints and the job want live
// pods, failing at once if the count passes the max of 3.
func waitAutoscaled(t *testing.T, cl *api.Client, phase string, within time.Duration, want int) {
	t.Helper()
	testutil.WaitFor(t, within, func() (bool, error) {
		objs, err := cl.JobObjects("burn", nil)
		if err != nil || len(objs.Deployments) != 1 {
			return false, fmt.Errorf("deployments: %+v, %v", objs, err)
		}
		replicas := objs.Deployments[0].Replicas
		if replicas > 3 {
			t.Fatalf("%s: the deployment wants %d pods, past scaling.max 3", phase, replicas)
		}
		eps, err := cl.EndpointsOf(structs.DefaultNamespace, "burn", nil)
		if err != nil {
			return false, err
		}
		pods, _, err := cl.Pods("burn", nil)
		if err != nil {
			return false, err
		}
		live := 0
		for _, p := range pods {
			if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() {
				live++
			}
		}
		ready := eps.ReadyCount()
		return replicas == want && ready == want && live == want,
			fmt.Errorf("%s: deployment wants %d, %d ready endpoints, %d live pods; want %d", phase, replicas, ready, live, want)
	})
}
