package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// rolloutJob is a service of count pods answering "<version> <pod>" on
// its port, with an http check; driver is "exec" or "docker". extraUpdate
// goes into the update block. A version named "bad" never passes its
// check.
func rolloutJob(name, driver, version string, count int, extraUpdate string) string {
	return rolloutJobWith(name, driver, version, count, extraUpdate, "")
}

// rolloutJobWith is rolloutJob with extra blocks in the group (an
// ingress).
func rolloutJobWith(name, driver, version string, count int, extraUpdate, extraGroup string) string {
	healthz := "echo ok > www/healthz;"
	if version == "bad" {
		healthz = ""
	}
	script := fmt.Sprintf("mkdir -p www; %s echo %s $MK_POD_NAME > www/index.html; exec busybox httpd -f -p 8080 -h www", healthz, version)
	task := fmt.Sprintf(`driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }`, script)
	if driver == "docker" {
		task = fmt.Sprintf(`driver = "docker"
      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "sh"
        args    = ["-c", %q]
      }`, strings.ReplaceAll(script, "busybox httpd", "httpd"))
	}
	return fmt.Sprintf(`job %[1]q {
  type = "service"
  group "web" {
    count = %[2]d
    network {
      port "http" {
        to = 8080
      }
    }
    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
%[3]s
    }
    service {
      name = %[1]q
      port = "http"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "500ms"
        timeout  = "1s"
      }
    }
%[6]s
    task "httpd" {
      %[4]s
      env {
        VERSION = %[5]q
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, name, count, extraUpdate, task, version, extraGroup)
}

// loadLoop calls a service in a loop at rate requests per second, each
// on a new connection, half through its ClusterIP and half through its
// DNS name resolved by the node DNS, and counts failures and answers by
// version.
type loadLoop struct {
	mu       sync.Mutex
	ok       int
	failures []string
	versions map[string]int
	stop     chan struct{}
	done     chan struct{}
}

func startLoad(t *testing.T, service, clusterIP string, port, rate int) *loadLoop {
	t.Helper()
	return startRequests(rate, fmt.Sprintf("http://%s:%d/", clusterIP, port), fmt.Sprintf("http://%s.default.svc.mk.local:%d/", service, port))
}

// startIngressLoad calls a host name through the node's ingress proxy.
func startIngressLoad(host string, rate int) *loadLoop {
	return startRequests(rate, "http://"+host+"@127.0.0.1:8080/")
}

// startRequests cycles through urls at rate requests per second; a URL
// "http://HOST@ADDR/" is sent to ADDR with Host: HOST (the ingress).
func startRequests(rate int, urls ...string) *loadLoop {
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", "10.42.0.1:53")
	}}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{Resolver: resolver, Timeout: time.Second}).DialContext}}
	l := &loadLoop{versions: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			req, err := http.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
			if err != nil {
				l.record(nil, err)
				continue
			}
			if req.URL.User != nil {
				req.Host, req.URL.User = req.URL.User.Username(), nil
			}
			l.record(hc.Do(req))
		}
	}()
	return l
}

func (l *loadLoop) record(resp *http.Response, err error) {
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failures = append(l.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
		return
	}
	l.ok++
	l.versions[strings.Fields(string(body) + " ?")[0]]++
}

func (l *loadLoop) finish() (ok int, failures []string, versions map[string]int) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.failures, l.versions
}

// podCounts samples a job's pods over time: live pods (wanted, not
// finished) and available ones (running, healthy, not draining).
type podCounts struct {
	mu       sync.Mutex
	maxLive  int
	minAvail int
	samples  int
	stop     chan struct{}
	done     chan struct{}
}

func samplePods(t *testing.T, cl *api.Client, job string) *podCounts {
	c := &podCounts{minAvail: 1 << 30, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			pods, _, err := cl.Pods(job, &api.QueryOptions{Stale: true})
			if err != nil {
				continue
			}
			live, avail := 0, 0
			for _, p := range pods {
				if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() {
					live++
					if p.Phase == structs.PodPhaseRunning && p.Healthy && !p.Draining {
						avail++
					}
				}
			}
			c.mu.Lock()
			c.maxLive, c.minAvail, c.samples = max(c.maxLive, live), min(c.minAvail, avail), c.samples+1
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *podCounts) finish() (maxLive, minAvail, samples int) {
	close(c.stop)
	<-c.done
	return c.maxLive, c.minAvail, c.samples
}

// clusterIPOf waits for a service's ClusterIP and returns it with the
// service's port.
func clusterIPOf(t *testing.T, cl *api.Client, service string) (string, int) {
	var svc *structs.Service
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		var err error
		if svc, err = cl.Service(structs.DefaultNamespace, service, nil); err != nil {
			return false, err
		}
		return svc.ClusterIP != "" && len(svc.Ports) > 0, fmt.Errorf("service %s has no ClusterIP yet", service)
	})
	return svc.ClusterIP, svc.Ports[0].Port
}

// templateVersions counts a job's live pods by the VERSION of their
// template.
func templateVersions(t *testing.T, cl *api.Client, job string) map[string]int {
	pods, _, err := cl.Pods(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pods {
		if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() && p.Template != nil {
			out[p.Template.Tasks[0].Env["VERSION"]]++
		}
	}
	return out
}

// waitVersions waits until a job's live pods are exactly want.
func waitVersions(t *testing.T, cl *api.Client, job string, want map[string]int, deadline time.Duration) {
	t.Helper()
	testutil.WaitFor(t, deadline, func() (bool, error) {
		got := templateVersions(t, cl, job)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Errorf("live pods by version %v, want %v", got, want)
	})
}

// testZeroFailedRollout rolls a 4-pod service from v1 to v2 under a
// 50 req/s loop through its ClusterIP and DNS name: no request may fail,
// and the sampled pod counts stay within max_surge and max_unavailable.
func testZeroFailedRollout(t *testing.T, addr, driver string) {
	testZeroFailedRolloutVia(t, addr, driver, false)
}

// testZeroFailedRolloutVia is testZeroFailedRollout with the load sent
// through the node's ingress proxy (host <name>.local) when viaIngress.
func testZeroFailedRolloutVia(t *testing.T, addr, driver string, viaIngress bool) {
	cl := clientAt(t, addr)
	name := "roll-" + driver
	ingress := ""
	if viaIngress {
		name += "-ingress"
		ingress = fmt.Sprintf(`    ingress {
      host = "%s.local"
      path "/" {
        service = %q
        port    = 8080
      }
    }`, name, name)
	}
	const count, surge, unavailable = 4, 1, 1
	update := fmt.Sprintf("      max_surge = %d\n      max_unavailable = %d", surge, unavailable)
	if _, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "v1.hcl", rolloutJobWith(name, driver, "v1", count, update, ingress))); code != 0 {
		t.Fatalf("job run v1: exit %d\n%s", code, stderr)
	}
	ip, port := clusterIPOf(t, cl, name)
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		eps, err := cl.EndpointsOf(structs.DefaultNamespace, name, nil)
		if err != nil {
			return false, err
		}
		return eps.ReadyCount() == count, fmt.Errorf("%d ready endpoints, want %d", eps.ReadyCount(), count)
	})
	var load *loadLoop
	if viaIngress {
		load = startIngressLoad(name+".local", 50)
	} else {
		load = startLoad(t, name, ip, port, 50)
	}
	counts := samplePods(t, cl, name)
	start := time.Now()
	stdout, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "v2.hcl", rolloutJobWith(name, driver, "v2", count, update, ingress)))
	took := time.Since(start)
	maxLive, minAvail, samples := counts.finish()
	ok, failures, versions := load.finish()
	if code != 0 {
		t.Fatalf("job run v2: exit %d after %s\nstdout:\n%s\nstderr:\n%s", code, took, stdout, stderr)
	}
	t.Logf("rollout took %s: %d requests ok, %d failed, by version %v; %d samples: at most %d live, at least %d available",
		took, ok, len(failures), versions, samples, maxLive, minAvail)
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the rollout: %s", len(failures), ok+len(failures), strings.Join(failures, "; "))
	}
	if versions["v2"] == 0 || versions["v1"] == 0 {
		t.Errorf("answers by version %v: want both versions seen during the rollout", versions)
	}
	if maxLive > count+surge {
		t.Errorf("%d live pods at once, above count %d + max_surge %d", maxLive, count, surge)
	}
	if minAvail < count-unavailable {
		t.Errorf("%d available pods at one point, below count %d - max_unavailable %d", minAvail, count, unavailable)
	}
	if samples < 20 {
		t.Errorf("only %d samples of the pods during the rollout", samples)
	}
	waitVersions(t, cl, name, map[string]int{"v2": count}, 10*time.Second)
}

// TestRollout covers the rolling update end to end on a dev agent:
// bounded steps with zero failed requests (exec), a count-only change
// without a rollout, canaries and promotion, a failed rollout rolled
// back by auto_revert, and a revert by hand.
func TestRollout(t *testing.T) {
	addr := devAgent(t)
	cl := clientAt(t, addr)

	t.Run("exec: zero failed requests within surge and unavailable", func(t *testing.T) {
		testZeroFailedRollout(t, addr, "exec")
	})

	t.Run("a count-only change scales in place", func(t *testing.T) {
		const name = "roll-exec"
		before, _, err := cl.Pods(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		update := "      max_surge = 1\n      max_unavailable = 1"
		if _, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "v2-5.hcl", rolloutJob(name, "exec", "v2", 5, update))); code != 0 {
			t.Fatalf("job run: exit %d\n%s", code, stderr)
		}
		after := waitPods(t, cl, name, 5, func(p *structs.Pod) bool { return p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() })
		kept := map[string]bool{}
		for _, p := range after {
			kept[p.ID] = true
		}
		for _, p := range before {
			if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() && !kept[p.ID] {
				t.Errorf("pod %s was replaced by a count-only change", p.Name)
			}
		}
		stdout, _, _ := runMk(t, addr, "job", "run", writeJob(t, "v2-5b.hcl", rolloutJob(name, "exec", "v2", 5, update)))
		if !strings.Contains(stdout, "unchanged") {
			t.Errorf("running the same file again: %s", stdout)
		}
	})

	t.Run("canary then promote", func(t *testing.T) {
		const name = "canary"
		update := "      max_surge = 1\n      canary = 1"
		if _, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "c1.hcl", rolloutJob(name, "exec", "v1", 3, update))); code != 0 {
			t.Fatalf("job run v1: exit %d\n%s", code, stderr)
		}
		// job run follows the rollout up to the healthy canary, which
		// waits for a person: it stops there and says how to go on.
		stdout, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "c2.hcl", rolloutJob(name, "exec", "v2", 3, update)))
		if code != 0 || !strings.Contains(stdout, "waits for its canaries to be promoted: mk job promote "+name) {
			t.Fatalf("job run v2: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			deps, _, err := cl.JobDeployments(name, nil)
			if err != nil || len(deps) != 1 {
				return false, fmt.Errorf("deployments %v: %v", deps, err)
			}
			d := deps[0]
			return d.Status == structs.DeploymentStatusPaused && d.Healthy == 1 && d.OldPods == 3,
				fmt.Errorf("deployment %s (%s): %d healthy, %d old", d.Status, d.StatusDescription, d.Healthy, d.OldPods)
		})
		waitVersions(t, cl, name, map[string]int{"v1": 3, "v2": 1}, 5*time.Second)
		status, _, _ := runMk(t, addr, "job", "deployment", "status", "-no-follow", name)
		if !strings.Contains(status, "paused") || !strings.Contains(status, "mk job promote") {
			t.Errorf("deployment status does not show the waiting canary:\n%s", status)
		}
		stdout, stderr, code = runMk(t, addr, "job", "promote", name)
		if code != 0 {
			t.Fatalf("job promote: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		waitVersions(t, cl, name, map[string]int{"v2": 3}, 10*time.Second)
		if _, stderr, code := runMk(t, addr, "job", "promote", name); code == 0 || !strings.Contains(stderr, "no canaries") {
			t.Errorf("a second promote: exit %d, %s", code, stderr)
		}
	})

	t.Run("a failed rollout is reverted by auto_revert", func(t *testing.T) {
		const name = "autorevert"
		update := "      max_surge = 1\n      max_unavailable = 0\n      auto_revert = true"
		if _, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "a1.hcl", rolloutJob(name, "exec", "v1", 2, update))); code != 0 {
			t.Fatalf("job run v1: exit %d\n%s", code, stderr)
		}
		bad := strings.Replace(rolloutJob(name, "exec", "bad", 2, update), `healthy_deadline = "1m"`, `healthy_deadline = "4s"`, 1)
		stdout, stderr, code := runMk(t, addr, "job", "run", writeJob(t, "a2.hcl", bad))
		if code != 2 || !strings.Contains(stdout+stderr, "not healthy within healthy_deadline 4s") {
			t.Fatalf("job run of a bad version: exit %d, want 2 with the deadline\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
			job, _, err := cl.Job(name, nil)
			if err != nil {
				return false, err
			}
			return job.Version == 2, fmt.Errorf("job at version %d, want 2 (the revert of version 0)", job.Version)
		})
		waitVersions(t, cl, name, map[string]int{"v1": 2}, 20*time.Second)
		status, _, _ := runMk(t, addr, "job", "status", name)
		if !strings.Contains(status, "successful") {
			t.Errorf("job status after the revert:\n%s", status)
		}
	})

	t.Run("revert by hand", func(t *testing.T) {
		const name = "roll-exec" // at v2 (versions 0: v1, 1: v2, 2: v2 with count 5)
		stdout, stderr, code := runMk(t, addr, "job", "revert", name, "0")
		if code != 0 {
			t.Fatalf("job revert: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		waitVersions(t, cl, name, map[string]int{"v1": 4}, 10*time.Second)
		history, _, _ := runMk(t, addr, "job", "history", "-p", name)
		if !strings.Contains(history, "Version     = 3") || !strings.Contains(history, `"v2" => "v1"`) {
			t.Errorf("job history -p after the revert:\n%s", history)
		}
		if _, stderr, code := runMk(t, addr, "job", "revert", name, "99"); code == 0 || !strings.Contains(stderr, "no version 99") {
			t.Errorf("revert to a missing version: exit %d, %s", code, stderr)
		}
	})
}

// TestRolloutDocker: the same rollout of docker tasks (busybox httpd in a
// container of each pod) sees no failed request either.
func TestRolloutDocker(t *testing.T) {
	requireDocker(t)
	addr := devAgent(t)
	testZeroFailedRollout(t, addr, "docker")
}

// TestRolloutBehindIngress: the same rollout, called through the node's
// ingress proxy by host name: the ingress drops a draining pod before it
// stops, as the service proxy does.
func TestRolloutBehindIngress(t *testing.T) {
	addr := devAgent(t)
	testZeroFailedRolloutVia(t, addr, "exec", true)
}
