package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// checkedJob is a service whose task serves HTTP with busybox httpd on
// its port; /healthz exists only when ready. Its service has an http, a
// tcp and an exec check.
func checkedJob(name string, ready bool) string {
	return fmt.Sprintf(`job %[1]q {
  type = "service"
  group "web" {
    count = 1
    network {
      port "http" {
        to = 8080
      }
    }
    update {
      min_healthy_time = "1s"
      healthy_deadline = "8s"
    }
    service {
      name = %[1]q
      port = "http"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "1s"
        timeout  = "1s"
      }
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
      check {
        name     = "page"
        type     = "exec"
        command  = "/bin/sh"
        args     = ["-c", "test -f www/healthz || { echo no healthz; exit 1; }"]
        interval = "1s"
        timeout  = "2s"
      }
    }
    task "httpd" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www; if [ \"$READY\" = yes ]; then echo ok > www/healthz; fi; exec busybox httpd -f -p $MK_PORT_http -h www"]
      }
      env {
        READY = %[2]q
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, name, map[bool]string{true: "yes", false: "no"}[ready])
}

// TestServiceChecks: a pod is healthy only once its http, tcp and exec
// checks pass; job run waits for them, reports a failing one and exits 2
// with it at the healthy deadline; a check that fails later takes the
// pod's health away and becomes its reason.
func TestServiceChecks(t *testing.T) {
	addr := devAgent(t)
	cl := clientAt(t, addr)

	t.Run("a failing check fails job run with its reason", func(t *testing.T) {
		start := time.Now()
		stdout, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "unready.hcl", checkedJob("unready", false)))
		if code != 2 {
			t.Fatalf("exit %d after %s, want 2\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), stdout, stderr)
		}
		for _, want := range []string{`check "unready-http" critical: HTTP 404 Not Found`, `check "page" critical: exit code 1: no healthz`} {
			if !strings.Contains(stdout+stderr, want) {
				t.Errorf("job run does not report %q\nstdout:\n%s\nstderr:\n%s", want, stdout, stderr)
			}
		}
		if !strings.Contains(stderr, `not healthy within 8s`) {
			t.Errorf("stderr does not say the deadline passed:\n%s", stderr)
		}
		list, _, _ := runMk(t, addr, "pod", "list", "-job", "unready")
		if !strings.Contains(list, `critical: HTTP 404 Not Found`) {
			t.Errorf("pod list shows no check reason:\n%s", list)
		}
	})

	t.Run("passing checks make the pod healthy, a failing one unhealthy again", func(t *testing.T) {
		stdout, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "ready.hcl", checkedJob("ready", true)))
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		pods := waitPods(t, cl, "ready", 1, func(p *structs.Pod) bool { return p.Healthy })
		pod := pods[0]
		if len(pod.Checks) != 3 {
			t.Fatalf("pod has %d checks, want 3: %+v", len(pod.Checks), pod.Checks)
		}
		for _, c := range pod.Checks {
			if c.Status != structs.CheckPassing {
				t.Errorf("check %s of a healthy pod is %s (%s)", c.Name, c.Status, c.Output)
			}
		}
		status, _, _ := runMk(t, addr, "pod", "status", pod.ID[:8])
		for _, want := range []string{"Checks", "ready-http", "HTTP 200 OK", "ready-tcp-1", "connected to", "page"} {
			if !strings.Contains(status, want) {
				t.Errorf("pod status lacks %q:\n%s", want, status)
			}
		}

		testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
			return endpointReady(cl, "ready", pod.ID, true)
		})

		// The check runs every 1s and the client reports within its
		// batch window: the endpoint must lose readiness within about
		// that (2s), plus what the controller and the API add.
		failedAt := time.Now()
		if _, _, code := runMk(t, addr, "pod", "exec", pod.ID[:8], "--", "rm", "www/healthz"); code != 0 {
			t.Fatalf("pod exec rm: exit %d", code)
		}
		testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
			return endpointReady(cl, "ready", pod.ID, false)
		})
		if took := time.Since(failedAt); took > 3*time.Second {
			t.Errorf("the endpoint stayed ready %s after its check started failing; want within the check interval plus a report", took)
		}
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			p, err := cl.Pod(pod.ID, nil)
			if err != nil {
				return false, err
			}
			if !p.Healthy && strings.HasPrefix(p.Reason(), `check "ready-http" critical: HTTP 404`) {
				return true, nil
			}
			return false, fmt.Errorf("pod healthy=%v reason=%q checks=%s", p.Healthy, p.Reason(), describeChecks(p))
		})
	})
}

// endpointReady reports whether the service's endpoint for the pod has
// the wanted readiness.
func endpointReady(cl *api.Client, service, podID string, want bool) (bool, error) {
	eps, err := cl.EndpointsOf(structs.DefaultNamespace, service, nil)
	if err != nil {
		return false, err
	}
	for _, ep := range eps.Endpoints {
		if ep.PodID == podID {
			if ep.Ready == want {
				return true, nil
			}
			return false, fmt.Errorf("endpoint of %s: ready=%v (%s), want %v", ep.PodName, ep.Ready, ep.Reason, want)
		}
	}
	return false, fmt.Errorf("service %s has no endpoint for pod %s: %+v", service, podID, eps.Endpoints)
}

func describeChecks(p *structs.Pod) string {
	var parts []string
	for _, c := range p.Checks {
		parts = append(parts, c.Describe())
	}
	return strings.Join(parts, "; ")
}
