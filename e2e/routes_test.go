package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// helloJob is one pod on client-2 serving its own IP on port 8080.
const helloJob = `job "hello" {
  type = "service"
  group "hello" {
    constraint {
      attribute = "${node.name}"
      value     = "client-2"
    }
    update {
      min_healthy_time = "1s"
    }
    task "httpd" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo $MK_IP > www/index.html && exec busybox httpd -f -p 8080 -h www"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`

// TestMultiHostRoutesFollowNodes: every client host has a host-gw route
// (routing protocol 109) to each other ready node's pod /24 via that
// node's address; when a node's agent is killed and the servers mark it
// down, the other hosts remove their route to it, and when it comes back
// they add it again and its pod answers from another host. The server's
// heartbeat TTL and grace are 2s, so a dead node is down in seconds.
func TestMultiHostRoutesFollowNodes(t *testing.T) {
	start := time.Now()
	m := newMultiHost(t, "iptables", 20+2*(os.Getpid()%100), `heartbeat_ttl = "2s"`, `heartbeat_grace = "2s"`)
	cidr := map[string]string{}
	for _, c := range m.Clients {
		n, err := m.API.Node(c.NodeID, nil)
		if err != nil {
			t.Fatal(err)
		}
		cidr[c.Name] = n.PodCIDR
	}
	// want is the routes of client c while the clients named up are
	// ready: each other one's pod CIDR via its address.
	want := func(c *netHost, up ...string) string {
		var rs []string
		for _, name := range up {
			if name != c.Name {
				rs = append(rs, cidr[name]+" via "+m.client(name).IP)
			}
		}
		sort.Strings(rs)
		return strings.Join(rs, "\n")
	}
	waitRoutes := func(when string, hosts []*netHost, up ...string) {
		t.Helper()
		for _, c := range hosts {
			w := want(c, up...)
			testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
				got := podRoutes(t, c)
				return got == w, fmt.Errorf("%s: %s: routes of protocol 109:\n%s\nwant:\n%s", when, c.Name, got, w)
			})
		}
	}
	all := []string{"client-1", "client-2", "client-3"}
	waitRoutes("all nodes ready", m.Clients, all...)

	m.runJobFile(t, "hello", helloJob)
	pod := m.podsOn(t, "hello", 1)["client-2"]
	if pod == nil {
		t.Fatal("hello pod not on client-2")
	}
	from := m.client("client-1")
	waitAnswer(t, m, from, "before the kill")

	down := m.client("client-2")
	others := []*netHost{m.client("client-1"), m.client("client-3")}
	killedAt := time.Now()
	down.Agent.Kill()
	waitNodeStatus(t, m, down, structs.NodeStatusDown)
	t.Logf("client-2 marked down %s after its agent was killed", time.Since(killedAt).Round(time.Millisecond))
	waitRoutes("client-2 down", others, "client-1", "client-3")
	t.Logf("routes to client-2 gone %s after its agent was killed", time.Since(killedAt).Round(time.Millisecond))

	restartedAt := time.Now()
	down.Agent.Restart()
	waitNodeStatus(t, m, down, structs.NodeStatusReady)
	waitRoutes("client-2 back", m.Clients, all...)
	waitAnswer(t, m, from, "after the restart")
	t.Logf("client-2's routes and pod back %s after its agent restarted; test took %s",
		time.Since(restartedAt).Round(time.Millisecond), time.Since(start).Round(time.Second))
}

// podRoutes is the host's routes of the pod network (protocol 109), one
// "dst via gw" a line, sorted.
func podRoutes(t *testing.T, c *netHost) string {
	t.Helper()
	out, err := c.Exec("ip", "-4", "route", "show", "proto", "109")
	if err != nil {
		t.Fatalf("%s: ip route: %v\n%s", c.Name, err, out)
	}
	var rs []string
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "via" {
			rs = append(rs, strings.Join(f[:3], " "))
		} else if l != "" {
			rs = append(rs, l)
		}
	}
	sort.Strings(rs)
	return strings.Join(rs, "\n")
}

// waitNodeStatus waits until the servers give c's node status.
func waitNodeStatus(t *testing.T, m *multiHost, c *netHost, status string) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		n, err := m.API.Node(c.NodeID, nil)
		if err != nil {
			return false, err
		}
		return n.Status == status, fmt.Errorf("node %s is %s, want %s", c.Name, n.Status, status)
	})
}

// waitAnswer waits until the running hello pod on client-2 answers its
// own IP to a request from the host from, through the route to
// client-2's pods.
func waitAnswer(t *testing.T, m *multiHost, from *netHost, when string) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		pods, _, err := m.API.Pods("hello", nil)
		if err != nil {
			return false, err
		}
		var ip string
		for _, p := range pods {
			if running(p) && p.IP != "" && p.NodeName == "client-2" {
				ip = p.IP
			}
		}
		if ip == "" {
			return false, fmt.Errorf("%s: no running hello pod on client-2", when)
		}
		got, err := getIn(from.NS, "http://"+ip+":8080/")
		return got == ip, fmt.Errorf("%s: %s -> hello pod %s: %q, %v", when, from.Name, ip, got, err)
	})
}
