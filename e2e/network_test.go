package e2e

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// The pod network and services across real hosts (network namespaces on
// one L2 segment, each running its own mk agent; see multihost_test.go),
// once per proxy mode. One cluster per mode serves every subtest, in
// order: later ones use the jobs earlier ones ran.

// webScript serves, with busybox httpd on the pod's port 8080, the pod's
// IP at /, /healthz (the service's check; remove it to fail the check)
// and /cgi-bin/peer, which answers the address the request came from.
const webScript = `mkdir -p www/cgi-bin && echo ok > www/healthz && echo $MK_IP > www/index.html && ` +
	`printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n' > www/cgi-bin/peer && ` +
	`chmod +x www/cgi-bin/peer && exec busybox httpd -f -p $MK_PORT_http -h www`

// webJob is the service "web": two pods on distinct hosts, client-1 and
// client-2, behind a ClusterIP and a NodePort, ready while their http
// check passes. A killed task restarts after 30s: long enough for a test
// to see its endpoint go.
var webJob = fmt.Sprintf(`job "web" {
  type = "service"
  group "web" {
    count = 2
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }
    constraint {
      attribute = "${node.name}"
      operator  = "regexp"
      value     = "^client-[12]$"
    }
    network {
      port "http" {
        to = 8080
      }
    }
    restart {
      attempts = 3
      interval = "10m"
      delay    = "30s"
      mode     = "delay"
    }
    update {
      min_healthy_time = "1s"
    }
    service {
      name = "web"
      port = "http"
      type = "NodePort"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "httpd" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, webScript)

// probeJob is one pod on client-3, the host without a web pod: "main"
// serves a page on 8081, "side" reaches it over localhost and is where
// the test runs its commands.
const probeJob = `job "probe" {
  type = "service"
  group "probe" {
    constraint {
      attribute = "${node.name}"
      value     = "client-3"
    }
    update {
      min_healthy_time = "1s"
    }
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo local $MK_IP > www/index.html && exec busybox httpd -f -p 8081 -h www"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
    task "side" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`

// echoJob is the service "echo" on client-1: every connection to port
// 9000 is echoed back, for as long as it stays open.
const echoJob = `job "echo" {
  type = "service"
  group "echo" {
    constraint {
      attribute = "${node.name}"
      value     = "client-1"
    }
    network {
      port "echo" {
        to = 9000
      }
    }
    update {
      min_healthy_time = "1s"
    }
    service {
      name = "echo"
      port = "echo"
    }
    task "nc" {
      driver = "exec"
      config {
        command = "busybox"
        args    = ["nc", "-ll", "-p", "9000", "-e", "/bin/cat"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`

// TestMultiHostNetwork runs the multi-host network tests in both proxy
// modes, one cluster each.
func TestMultiHostNetwork(t *testing.T) {
	// Segments 10.210.<k>.0/24 by process, so that two test runs on one
	// machine (two worktrees) do not put one subnet on two links of the
	// machine's namespace (7 is the L2Net test's and the benchmark's).
	base := 20 + 2*(os.Getpid()%100)
	for i, mode := range []string{"iptables", "nftables"} {
		t.Run(mode, func(t *testing.T) {
			start := time.Now()
			testMultiHost(t, mode, base+i)
			t.Logf("%s mode: %s", mode, time.Since(start).Round(time.Second))
		})
	}
}

func testMultiHost(t *testing.T, mode string, k int) {
	m := newMultiHost(t, mode, k)
	// Rules of "another program" in every client host, before mk's first
	// service: they must survive every sync and the deletion of services.
	for _, c := range m.Clients {
		addForeignRules(t, c)
	}
	m.runJobFile(t, "web", webJob)
	m.runJobFile(t, "probe", probeJob)
	m.runJobFile(t, "echo", echoJob)
	web := m.podsOn(t, "web", 2)
	podA, podB := web["client-1"], web["client-2"]
	if podA == nil || podB == nil {
		t.Fatalf("web pods not on client-1 and client-2: %v", web)
	}
	probe := m.podsOn(t, "probe", 1)["client-3"]
	if probe == nil {
		t.Fatal("probe pod not on client-3")
	}
	svc, err := m.API.Service(structs.DefaultNamespace, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if svc.ClusterIP == "" || len(svc.Ports) != 1 || svc.Ports[0].NodePort == 0 {
		t.Fatalf("service web: %+v", svc)
	}
	cip := net.JoinHostPort(svc.ClusterIP, strconv.Itoa(svc.Ports[0].Port))
	nodePort := svc.Ports[0].NodePort
	backends := map[string]bool{podA.IP: true, podB.IP: true}
	waitEndpointsReady(t, m, "web", 2)

	t.Run("pod to pod across hosts keeps the source address", func(t *testing.T) {
		for _, pair := range [][2]*structs.Pod{{podA, podB}, {podB, podA}, {probe, podA}} {
			from, to := pair[0], pair[1]
			task := "httpd"
			if from == probe {
				task = "side"
			}
			got := strings.TrimSpace(m.podExec(t, from.ID, task, "timeout", "10", "busybox", "wget", "-q", "-O", "-", "http://"+to.IP+":8080/cgi-bin/peer"))
			// httpd listens on IPv6 too: an IPv4 peer is [::ffff:a.b.c.d].
			if ip := net.ParseIP(strings.Trim(got, "[]")); ip != nil {
				got = ip.String()
			}
			if got != from.IP {
				t.Errorf("%s (%s, on %s) saw a request of %s (%s, on %s) come from %q, want the sender's pod IP",
					to.Name, to.IP, to.NodeName, from.Name, from.IP, from.NodeName, got)
			}
		}
	})

	t.Run("two tasks of one pod talk over localhost", func(t *testing.T) {
		got := strings.TrimSpace(m.podExec(t, probe.ID, "side", "timeout", "10", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8081/"))
		if got != "local "+probe.IP {
			t.Errorf("side -> main over localhost: %q, want %q", got, "local "+probe.IP)
		}
	})

	t.Run("ClusterIP from a pod, every client host and the server host reaches both backends and never fails", func(t *testing.T) {
		out := m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop("http://"+cip+"/", 100))
		checkSpread(t, "pod "+probe.Name+" on client-3", lines(out), backends, 100)
		for _, c := range m.Clients {
			checkSpread(t, c.Name, requests(c.NS, "http://"+cip+"/", 100), backends, 100)
		}
		// The server host runs no proxy: a ClusterIP means something
		// only on client nodes, or on a host that routes the service
		// CIDR to one, as the server host does here through client-3
		// (which runs no web pod: every request is forwarded).
		if out, err := m.Server.Exec("ip", "route", "replace", "10.96.0.0/16", "via", m.client("client-3").IP); err != nil {
			t.Fatalf("route the service CIDR from the server host: %v\n%s", err, out)
		}
		defer func() { _, _ = m.Server.Exec("ip", "route", "del", "10.96.0.0/16") }()
		checkSpread(t, "server host via client-3", requests(m.Server.NS, "http://"+cip+"/", 100), backends, 100)
		// Both backends are in every client's rules (nftables: the two
		// elements of the service's endpoint map).
		for _, c := range m.Clients {
			serviceRules(t, mode, c, cip, nodePort, len(backends))
		}
	})

	t.Run("a backend reaches its own service (hairpin)", func(t *testing.T) {
		// About half of these land on the sender itself.
		out := m.podExec(t, podA.ID, "httpd", "/bin/sh", "-c", wgetLoop("http://"+cip+"/", 20))
		checkSpread(t, "pod "+podA.Name, lines(out), backends, 20)
	})

	t.Run("NodePort answers on every client host's address, from the server host and a pod, and on 127.0.0.1 in each", func(t *testing.T) {
		var fromServer []string
		for _, c := range m.Clients {
			got := requests(m.Server.NS, fmt.Sprintf("http://%s:%d/", c.IP, nodePort), 34)
			checkSpread(t, fmt.Sprintf("server host -> %s:%d", c.Name, nodePort), got, backends, 34)
			fromServer = append(fromServer, got...)
			checkSpread(t, fmt.Sprintf("%s -> 127.0.0.1:%d", c.Name, nodePort),
				requests(c.NS, fmt.Sprintf("http://127.0.0.1:%d/", nodePort), 20), backends, 20)
			out := m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop(fmt.Sprintf("http://%s:%d/", c.IP, nodePort), 20))
			checkSpread(t, fmt.Sprintf("pod %s -> %s:%d", probe.Name, c.Name, nodePort), lines(out), backends, 20)
		}
		checkSpread(t, "server host, all NodePorts", fromServer, backends, 102)
	})

	t.Run("a pod's host port answers on its node's address, from another host and from the pod itself", func(t *testing.T) {
		for _, p := range []*structs.Pod{podA, podB} {
			port := 0
			for _, ap := range p.Ports {
				if ap.Label == "http" {
					port = ap.Value
				}
			}
			node := m.client(p.NodeName)
			url := fmt.Sprintf("http://%s:%d/", node.IP, port)
			if port == 0 {
				t.Fatalf("pod %s has no http host port: %+v", p.Name, p.Ports)
			}
			checkSpread(t, "server host -> "+url, requests(m.Server.NS, url, 5), map[string]bool{p.IP: true}, 5)
			out := m.podExec(t, p.ID, "httpd", "/bin/sh", "-c", wgetLoop(url, 5))
			checkSpread(t, "pod "+p.Name+" -> its own "+url, lines(out), map[string]bool{p.IP: true}, 5)
		}
	})

	t.Run("node DNS on every client host", func(t *testing.T) {
		for _, c := range m.Clients {
			if got := dig(t, c, "+short", "web.default.svc.mk.local"); got != svc.ClusterIP {
				t.Errorf("%s: A web.default.svc.mk.local = %q, want %s", c.Name, got, svc.ClusterIP)
			}
			want := fmt.Sprintf("0 100 %d web.default.svc.mk.local.", svc.Ports[0].Port)
			if got := dig(t, c, "+short", "SRV", "_http._tcp.web.default.svc.mk.local"); !strings.Contains(got, want) {
				t.Errorf("%s: SRV _http._tcp.web.default.svc.mk.local = %q, want %q", c.Name, got, want)
			}
			if got := dig(t, c, "nosuch.default.svc.mk.local"); !strings.Contains(got, "status: NXDOMAIN") {
				t.Errorf("%s: an unknown name in mk.local:\n%s", c.Name, got)
			}
			before := m.Resolver.Load()
			if got := dig(t, c, "+short", resolverName); got != resolverAnswer {
				t.Errorf("%s: %s = %q, want %s from the test's resolver", c.Name, resolverName, got, resolverAnswer)
			}
			if m.Resolver.Load() == before {
				t.Errorf("%s: the test's resolver in the server host got no query", c.Name)
			}
		}
		// From a pod, by the service's short name: its resolv.conf's
		// search domains.
		got := strings.TrimSpace(m.podExec(t, probe.ID, "side", "timeout", "10", "busybox", "wget", "-q", "-O", "-",
			fmt.Sprintf("http://web:%d/", svc.Ports[0].Port)))
		if !backends[got] {
			t.Errorf("http://web:%d/ from a pod: %q, want a backend of %v", svc.Ports[0].Port, got, backends)
		}
	})

	t.Run("kill -9 and restart of client agents keeps connections through a ClusterIP and pods' IPs", func(t *testing.T) {
		testAgentRestart(t, m)
	})

	t.Run("a backend whose check fails, then one killed, gets no requests within the bound", func(t *testing.T) {
		hosts := []*netHost{m.client("client-1"), m.client("client-2"), m.client("client-3")}
		failedAt := time.Now()
		m.podExec(t, podA.ID, "httpd", "rm", "www/healthz")
		took := waitOnlyBackend(t, hosts, "http://"+cip+"/", podB.IP)
		t.Logf("check failing: requests stopped reaching %s after %s", podA.IP, took.Sub(failedAt).Round(time.Millisecond))
		if d := took.Sub(failedAt); d > removalBound {
			t.Errorf("requests reached the backend with a failing check for %s, want within %s", d, removalBound)
		}

		m.podExec(t, podA.ID, "httpd", "sh", "-c", "echo ok > www/healthz")
		waitEndpointsReady(t, m, "web", 2)
		testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
			seen := map[string]int{}
			for _, c := range hosts {
				for _, r := range requests(c.NS, "http://"+cip+"/", 20) {
					seen[r]++
				}
			}
			return seen[podA.IP] > 0 && seen["FAIL"] == 0, fmt.Errorf("with the check passing again: %v", seen)
		})

		pod, err := m.API.Pod(podA.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		killedAt := time.Now()
		if err := syscall.Kill(taskPID(pod), syscall.SIGKILL); err != nil {
			t.Fatalf("kill the task of %s: %v", pod.Name, err)
		}
		took = waitOnlyBackend(t, hosts, "http://"+cip+"/", podB.IP)
		t.Logf("killed: requests stopped reaching %s after %s", podA.IP, took.Sub(killedAt).Round(time.Millisecond))
		if d := took.Sub(killedAt); d > removalBound {
			t.Errorf("requests reached the killed backend for %s, want within %s", d, removalBound)
		}
	})

	t.Run("a UDP flow moves off an endpoint that goes (conntrack)", func(t *testing.T) {
		testUDPConntrack(t, m)
	})

	t.Run("stopping the service removes its rules and leaves other programs' alone", func(t *testing.T) {
		eps, err := m.API.EndpointsOf(structs.DefaultNamespace, "web", nil)
		if err != nil {
			t.Fatal(err)
		}
		mine := map[string][]string{}
		for _, c := range m.Clients {
			mine[c.Name] = serviceRules(t, mode, c, svc.ClusterIP, nodePort, eps.ReadyCount())
		}
		if out, errOut, code := runMk(t, m.SrvAddr, "job", "stop", "web"); code != 0 {
			t.Fatalf("job stop: %d\n%s%s", code, out, errOut)
		}
		for _, c := range m.Clients {
			testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
				rules := dumpRules(t, mode, c)
				for _, name := range mine[c.Name] {
					if containsWord(rules, name) {
						return false, fmt.Errorf("%s: %s is still there:\n%s", c.Name, name, rules)
					}
				}
				if strings.Contains(rules, svc.ClusterIP) || containsWord(rules, strconv.Itoa(nodePort)) {
					return false, fmt.Errorf("%s: rules still name %s or %d:\n%s", c.Name, svc.ClusterIP, nodePort, rules)
				}
				return true, nil
			})
			checkForeignRules(t, c)
		}
		// The other service still works.
		echo, err := m.API.Service(structs.DefaultNamespace, "echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dumpRules(t, mode, m.Clients[0]), echo.ClusterIP) {
			t.Errorf("the rules of service echo went too")
		}
	})
}

// removalBound is how soon after a backend's check fails (1s interval) or
// its task dies no request may reach it: the check's interval, the
// client's report, the endpoints controller, the watch of every client
// and one proxy sync, with room for a loaded 2-core machine.
const removalBound = 8 * time.Second

// waitEndpointsReady waits until the service has want ready endpoints.
func waitEndpointsReady(t *testing.T, m *multiHost, service string, want int) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		eps, err := m.API.EndpointsOf(structs.DefaultNamespace, service, nil)
		if err != nil {
			return false, err
		}
		return eps.ReadyCount() == want, fmt.Errorf("%d of %d endpoints of %s ready, want %d", eps.ReadyCount(), len(eps.Endpoints), service, want)
	})
}

// wgetLoop is a shell loop that GETs url n times with busybox wget and
// prints each body, or FAIL. (busybox 1.35's wget -T crashes: timeout
// bounds it instead.)
func wgetLoop(url string, n int) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do timeout 5 busybox wget -q -O - %s || echo FAIL; i=$((i+1)); done`, n, url)
}

// lines splits command output into its lines.
func lines(out string) []string { return strings.Split(strings.TrimSpace(out), "\n") }

// requests GETs url n times from namespace ns, each on a new connection,
// and returns the bodies ("FAIL: error" for a failed one).
func requests(ns, url string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		body, err := getIn(ns, url)
		if err != nil {
			body = "FAIL: " + err.Error()
		}
		out = append(out, body)
	}
	return out
}

// checkSpread fails unless there are n answers, all from backends, every
// backend among them.
func checkSpread(t *testing.T, from string, got []string, backends map[string]bool, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	bad := len(got) != n
	for g := range seen {
		bad = bad || !backends[g]
	}
	for b := range backends {
		bad = bad || seen[b] == 0
	}
	if bad {
		t.Errorf("%s: %d answers, want %d, from every backend of %v and nothing else: %v", from, len(got), n, backends, seen)
	}
}

// waitOnlyBackend waits until 40 requests in a row from every host are
// answered by only, and returns when the first of them was sent. With
// random load balancing over two backends, 40 in a row miss the other
// one by chance with odds 2^-40.
func waitOnlyBackend(t *testing.T, hosts []*netHost, url, only string) time.Time {
	t.Helper()
	const streak = 40
	var since time.Time
	run := map[string]int{}
	testutil.WaitFor(t, 3*removalBound, func() (bool, error) {
		for _, h := range hosts {
			for i := 0; i < 10 && run[h.Name] < streak; i++ {
				sent := time.Now()
				if got := requests(h.NS, url, 1)[0]; got != only {
					clear(run)
					since = time.Time{}
					return false, fmt.Errorf("%s got %q", h.Name, got)
				}
				if since.IsZero() {
					since = sent
				}
				run[h.Name]++
			}
		}
		for _, h := range hosts {
			if run[h.Name] < streak {
				return false, fmt.Errorf("answers only from %s in a row: %v", only, run)
			}
		}
		return true, nil
	})
	return since
}
