package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// webDockerJob is the service "webd": two docker pods (busybox httpd,
// answering their pod IP) on distinct hosts, client-1 and client-2.
var webDockerJob = fmt.Sprintf(`job "webd" {
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
    update {
      min_healthy_time = "1s"
    }
    service {
      name = "webd"
      port = "http"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "httpd" {
      driver = "docker"
      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "sh"
        args    = ["-c", %q]
        ports   = ["http"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, webScript)

// TestDockerServiceTwoHosts: a service over docker pods on two client
// hosts (network namespaces on one L2 segment, each with its own agent)
// that share the machine's one Docker Engine. The Engine, in the root
// namespace, makes each pause container's namespace; the agent of the
// host the pod is placed on plumbs it from its own namespace (its veth
// end stays there, the other moves into the pod's). The service answers
// on its ClusterIP and DNS name from every client host and from an exec
// pod on the third host.
func TestDockerServiceTwoHosts(t *testing.T) {
	requireDocker(t)
	m := newMultiHost(t, "iptables", 20+2*(os.Getpid()%100))
	// Runs before the harness stops the agents: no container is left.
	t.Cleanup(func() { stopDockerJob(t, m, "webd") })
	m.runJobFile(t, "webd", webDockerJob)
	m.runJobFile(t, "probe", probeJob)
	web := m.podsOn(t, "webd", 2)
	podA, podB := web["client-1"], web["client-2"]
	if podA == nil || podB == nil {
		t.Fatalf("webd pods not on client-1 and client-2: %v", web)
	}
	probe := m.podsOn(t, "probe", 1)["client-3"]
	if probe == nil {
		t.Fatal("probe pod not on client-3")
	}
	for _, p := range []*structs.Pod{podA, podB} {
		checkPlumbedFrom(t, m.client(p.NodeName), p)
	}
	svc, err := m.API.Service(structs.DefaultNamespace, "webd", nil)
	if err != nil {
		t.Fatal(err)
	}
	cip := net.JoinHostPort(svc.ClusterIP, strconv.Itoa(svc.Ports[0].Port))
	backends := map[string]bool{podA.IP: true, podB.IP: true}
	waitEndpointsReady(t, m, "webd", 2)

	t.Run("ClusterIP from every client host and from an exec pod", func(t *testing.T) {
		for _, c := range m.Clients {
			checkSpread(t, c.Name, requests(c.NS, "http://"+cip+"/", 40), backends, 40)
		}
		out := m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop("http://"+cip+"/", 40))
		checkSpread(t, "exec pod "+probe.Name+" on client-3", lines(out), backends, 40)
	})

	t.Run("DNS name from every client host and from an exec pod", func(t *testing.T) {
		name := "webd.default.svc.mk.local"
		for _, c := range m.Clients {
			ip := dig(t, c, "+short", name)
			if ip != svc.ClusterIP {
				t.Fatalf("%s: A %s = %q, want %s", c.Name, name, ip, svc.ClusterIP)
			}
			url := fmt.Sprintf("http://%s:%d/", ip, svc.Ports[0].Port)
			checkSpread(t, c.Name+" by name", requests(c.NS, url, 20), backends, 20)
		}
		// The pod's resolv.conf: the short name through the node DNS.
		out := m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop(fmt.Sprintf("http://webd:%d/", svc.Ports[0].Port), 20))
		checkSpread(t, "exec pod by the short name", lines(out), backends, 20)
		out = m.podExec(t, probe.ID, "side", "/bin/sh", "-c", wgetLoop(fmt.Sprintf("http://%s:%d/", name, svc.Ports[0].Port), 20))
		checkSpread(t, "exec pod by the full name", lines(out), backends, 20)
	})

	t.Run("docker pod to docker pod across hosts keeps the source address", func(t *testing.T) {
		got := strings.TrimSpace(m.podExec(t, podA.ID, "httpd", "timeout", "10", "wget", "-q", "-O", "-", "http://"+podB.IP+":8080/cgi-bin/peer"))
		if ip := net.ParseIP(strings.Trim(got, "[]")); ip == nil || ip.String() != podA.IP {
			t.Errorf("%s saw a request of %s come from %q, want %s", podB.Name, podA.Name, got, podA.IP)
		}
	})
}

// vethPeer reads "eth0@if<N>" from `ip -o link show eth0`.
var vethPeer = regexp.MustCompile(`eth0@if(\d+):`)

// checkPlumbedFrom checks that the pod's namespace is its pause
// container's, made by the Engine (neither the machine's namespace nor
// the host's), that it holds the pod's IP on eth0, and that eth0's veth
// peer is in the namespace of the host whose agent plumbed it.
func checkPlumbedFrom(t *testing.T, h *netHost, p *structs.Pod) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=mk.pod="+p.ID, "--filter", "label=mk.role=pause",
		"--format", "{{.ID}}").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("pause container of %s: %v %q", p.Name, err, out)
	}
	pid, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", strings.TrimSpace(string(out))).Output()
	if err != nil {
		t.Fatalf("inspect the pause container of %s: %v", p.Name, err)
	}
	podNS := fmt.Sprintf("/proc/%s/ns/net", strings.TrimSpace(string(pid)))
	hostNS := "/var/run/netns/" + h.NS
	if sameFile(t, podNS, "/proc/self/ns/net") || sameFile(t, podNS, hostNS) {
		t.Fatalf("pod %s: the pause container's namespace is the machine's or the host's", p.Name)
	}
	link, err := exec.Command("nsenter", "--net="+podNS, "ip", "-o", "link", "show", "eth0").CombinedOutput()
	if err != nil {
		t.Fatalf("pod %s: eth0: %v\n%s", p.Name, err, link)
	}
	addr, _ := exec.Command("nsenter", "--net="+podNS, "ip", "-o", "-4", "addr", "show", "eth0").CombinedOutput()
	if !strings.Contains(string(addr), " "+p.IP+"/") {
		t.Errorf("pod %s: eth0 has %q, want %s", p.Name, addr, p.IP)
	}
	m := vethPeer.FindStringSubmatch(string(link))
	if m == nil {
		t.Fatalf("pod %s: eth0 is not a veth: %s", p.Name, link)
	}
	hostLinks, err := h.Exec("ip", "-o", "link")
	if err != nil {
		t.Fatalf("links of %s: %v", h.Name, err)
	}
	if !regexp.MustCompile(`(?m)^` + m[1] + `: \S+@if\d+: .* master `).MatchString(hostLinks) {
		t.Errorf("pod %s: the peer of eth0 (ifindex %s) is not on a bridge in %s's namespace:\n%s", p.Name, m[1], h.Name, hostLinks)
	}
}

// sameFile reports whether two paths are the same file (namespaces: the
// same namespace).
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// stopDockerJob stops a job of docker pods and waits until none of its
// containers is left.
func stopDockerJob(t *testing.T, m *multiHost, job string) {
	pods, _, _ := m.API.Pods(job, nil)
	if out, errOut, code := runMk(t, m.SrvAddr, "job", "stop", job); code != 0 {
		t.Errorf("job stop %s: %d\n%s%s", job, code, out, errOut)
	}
	for _, p := range pods {
		testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
			left := dockerPS(t, p.ID)
			return len(left) == 0, fmt.Errorf("containers of %s left: %v", p.Name, left)
		})
	}
}
