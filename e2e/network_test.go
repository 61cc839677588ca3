package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
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

// dig queries the client host's node DNS from inside the host.
func dig(t *testing.T, c *netHost, args ...string) string {
	t.Helper()
	out, err := c.Exec("dig", append([]string{"@" + c.Gateway, "+time=3", "+tries=2"}, args...)...)
	if err != nil {
		t.Errorf("%s: dig %q: %v\n%s", c.Name, args, err, out)
	}
	return strings.TrimSpace(out)
}

// addForeignRules adds rules of "another program" to the client host:
// a chain and rules in the iptables nat and filter tables, and an
// nftables table of its own.
func addForeignRules(t *testing.T, c *netHost) {
	t.Helper()
	for _, cmd := range [][]string{
		{"iptables", "-t", "nat", "-N", "OTHER-PROG"},
		{"iptables", "-t", "nat", "-A", "OTHER-PROG", "-d", "192.0.2.1/32", "-j", "RETURN"},
		{"iptables", "-t", "nat", "-I", "PREROUTING", "-m", "comment", "--comment", "other-prog", "-j", "OTHER-PROG"},
		{"iptables", "-t", "filter", "-A", "INPUT", "-s", "192.0.2.2/32", "-m", "comment", "--comment", "other-prog", "-j", "ACCEPT"},
		{"nft", "add", "table", "ip", "otherprog"},
		{"nft", "add", "chain", "ip", "otherprog", "in", "{ type filter hook input priority 10; policy accept; }"},
		{"nft", "add", "rule", "ip", "otherprog", "in", "ip", "saddr", "192.0.2.3", "counter", "accept"},
	} {
		if out, err := c.Exec(cmd[0], cmd[1:]...); err != nil {
			t.Fatalf("%s: %q: %v\n%s", c.Name, cmd, err, out)
		}
	}
}

// checkForeignRules fails when a rule addForeignRules added is gone.
func checkForeignRules(t *testing.T, c *netHost) {
	t.Helper()
	ipt, err := c.Exec("iptables-save")
	if err != nil {
		t.Fatalf("%s: iptables-save: %v\n%s", c.Name, err, ipt)
	}
	for _, want := range []string{
		"-A OTHER-PROG -d 192.0.2.1/32 -j RETURN",
		`-A PREROUTING -m comment --comment other-prog -j OTHER-PROG`,
		`-A INPUT -s 192.0.2.2/32 -m comment --comment other-prog -j ACCEPT`,
	} {
		if !strings.Contains(ipt, want) {
			t.Errorf("%s: another program's rule %q is gone:\n%s", c.Name, want, ipt)
		}
	}
	nft, err := c.Exec("nft", "list", "table", "ip", "otherprog")
	if err != nil || !strings.Contains(nft, "ip saddr 192.0.2.3 counter") {
		t.Errorf("%s: another program's nftables table is gone or changed: %v\n%s", c.Name, err, nft)
	}
}

// dumpRules is what the proxy mode programs in the host: the iptables
// rules, or the nftables ruleset.
func dumpRules(t *testing.T, mode string, c *netHost) string {
	t.Helper()
	cmd := []string{"iptables-save"}
	if mode == "nftables" {
		cmd = []string{"nft", "list", "ruleset"}
	}
	out, err := c.Exec(cmd[0], cmd[1:]...)
	if err != nil {
		t.Fatalf("%s: %q: %v\n%s", c.Name, cmd, err, out)
	}
	return out
}

var (
	iptJump   = regexp.MustCompile(`-j (MK-(?:SVC|SEP|EXT|FW)-[A-Z0-9]+)`)
	nftTarget = regexp.MustCompile(`(?:jump|goto) ((?:svc|sep|ext|fw)-[A-Z0-9]+)`)
)

// serviceRules are the chains of the service with ClusterIP cip and
// NodePort np on the host: those its ClusterIP and NodePort rules or map
// elements lead to, and the ones those lead to. It fails unless there is
// a service chain and an endpoint chain per ready endpoint.
func serviceRules(t *testing.T, mode string, c *netHost, cip string, np, ready int) []string {
	t.Helper()
	rules := dumpRules(t, mode, c)
	lines := strings.Split(rules, "\n")
	target := iptJump
	if mode == "nftables" {
		target = nftTarget
	}
	found := map[string]bool{}
	var queue []string
	add := func(line string) {
		for _, m := range target.FindAllStringSubmatch(line, -1) {
			if !found[m[1]] {
				found[m[1]] = true
				queue = append(queue, m[1])
			}
		}
	}
	for _, line := range lines {
		if strings.Contains(line, cip) || containsWord(line, strconv.Itoa(np)) {
			add(line)
		}
	}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, body := range chainBody(mode, lines, chain) {
			add(body)
		}
	}
	var out []string
	svcs, seps := 0, 0
	for name := range found {
		out = append(out, name)
		lower := strings.ToLower(name)
		switch {
		case strings.Contains(lower, "svc-"):
			svcs++
		case strings.Contains(lower, "sep-"):
			seps++
		}
	}
	if svcs < 1 || seps != ready {
		t.Fatalf("%s: found chains %v for %s and NodePort %d, want a service chain and %d endpoint chains:\n%s", c.Name, out, cip, np, ready, rules)
	}
	return out
}

// chainBody is the rules of chain in a dump.
func chainBody(mode string, lines []string, chain string) []string {
	var out []string
	if mode != "nftables" {
		for _, l := range lines {
			if strings.HasPrefix(l, "-A "+chain+" ") {
				out = append(out, l)
			}
		}
		return out
	}
	in := false
	for _, l := range lines {
		s := strings.TrimSpace(l)
		switch {
		case s == "chain "+chain+" {":
			in = true
		case in && s == "}":
			return out
		case in:
			out = append(out, s)
		}
	}
	return out
}

// containsWord reports whether s holds w with no letter, digit or dash
// on either side.
func containsWord(s, w string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9-])` + regexp.QuoteMeta(w) + `($|[^A-Za-z0-9-])`).MatchString(s)
}

// testAgentRestart kills -9 and restarts the agent of client-3, which
// holds the service rules a connection to echo's ClusterIP went
// through, then that of client-1, which runs the echo pod: the
// connection keeps working throughout, and the pods of both keep their
// IPs and processes.
func testAgentRestart(t *testing.T, m *multiHost) {
	echo, err := m.API.Service(structs.DefaultNamespace, "echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEndpointsReady(t, m, "echo", 1)
	src := m.client("client-3")
	addr := net.JoinHostPort(echo.ClusterIP, strconv.Itoa(echo.Ports[0].Port))
	var conn net.Conn
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		var err error
		conn, err = dialIn(src.NS, addr, 5*time.Second)
		return err == nil, err
	})
	defer conn.Close()
	n := 0
	ping := func(when string) {
		t.Helper()
		n++
		msg := fmt.Sprintf("ping %d %s\n", n, when)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatalf("write %s: %v", when, err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %s: %q, %v; want %q", when, buf, err, msg)
		}
	}
	ping("before")
	for _, name := range []string{"client-3", "client-1"} {
		c := m.client(name)
		before := podsOfNode(t, m, c.NodeID)
		if len(before) == 0 {
			t.Fatalf("no pod on %s", name)
		}
		oldPID, killedAt := c.Agent.PID(), time.Now()
		c.Agent.Kill()
		ping("with the agent of " + name + " killed")
		c.Agent.Restart()
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			n, err := proxySyncs(c.Agent, m.Mode, "full")
			return n >= 1, fmt.Errorf("%s restarted: %d full proxy syncs (%v)", name, n, err)
		})
		t.Logf("agent of %s: pid %d killed, pid %d serving and synced %s later", name, oldPID, c.Agent.PID(), time.Since(killedAt).Round(time.Millisecond))
		ping("after " + name + " restarted and synced")
		// New connections go through the rules the restarted agent wrote.
		for _, h := range m.Clients {
			fresh, err := dialIn(h.NS, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("new connection from %s to echo after %s restarted: %v", h.Name, name, err)
			}
			_ = fresh.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = fresh.Write([]byte("fresh\n"))
			buf := make([]byte, 6)
			if err == nil {
				_, err = io.ReadFull(fresh, buf)
			}
			fresh.Close()
			if err != nil || string(buf) != "fresh\n" {
				t.Errorf("new connection from %s to echo after %s restarted: %q, %v", h.Name, name, buf, err)
			}
		}
		after := podsOfNode(t, m, c.NodeID)
		for id, p := range before {
			q := after[id]
			switch {
			case q == nil:
				t.Errorf("pod %s of %s is gone after the restart", p.Name, name)
			case q.IP != p.IP || taskPIDs(q) != taskPIDs(p):
				t.Errorf("pod %s of %s: IP %s tasks %s before the restart, %s %s after", p.Name, name, p.IP, taskPIDs(p), q.IP, taskPIDs(q))
			}
		}
		// The pod's namespace still has its address.
		for _, p := range before {
			task := ""
			for tn := range p.TaskStates {
				task = tn
				break
			}
			if out := m.podExec(t, p.ID, task, "busybox", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, p.IP+"/24") {
				t.Errorf("pod %s: eth0 after the restart:\n%s", p.Name, out)
			}
		}
	}
}

// podsOfNode are the running pods of a node by ID.
func podsOfNode(t *testing.T, m *multiHost, nodeID string) map[string]*structs.Pod {
	t.Helper()
	pods, _, err := m.API.NodePods(t.Context(), nodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*structs.Pod{}
	for _, p := range pods {
		if running(p) && p.IP != "" {
			out[p.ID] = p
		}
	}
	return out
}

// taskPIDs lists a pod's tasks with their PIDs, sorted by name.
func taskPIDs(p *structs.Pod) string {
	var out []string
	for name, ts := range p.TaskStates {
		out = append(out, fmt.Sprintf("%s=%d", name, ts.PID))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
