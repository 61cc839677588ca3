package e2e

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// podNetJob is a bridge-mode group (the default) of two pods, each with
// an HTTP server on its port inside the pod and a sidecar that fetches
// it over localhost.
const podNetJob = `job "net" {
  type = "service"
  group "net" {
    count = 2
    network {
      port "http" {
        to = 8080
      }
    }
    update {
      min_healthy_time = "1s"
    }
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p /tmp/www && echo \"hi from $MK_IP\" > /tmp/www/index.html && exec busybox httpd -f -p $MK_PORT_http -h /tmp/www"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
    task "side" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while ! busybox wget -q -O - http://127.0.0.1:8080/; do sleep 0.2; done; exec sleep 3600"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`

// TestBridgePodNetwork: on a dev agent, each pod of a bridge group has an
// address of its own from the node's pod CIDR, shown by mk pod list and
// mk pod status; its tasks see it on eth0, the pod's resolv.conf at
// /etc/resolv.conf, talk over localhost, and reach the other pod by IP.
func TestBridgePodNetwork(t *testing.T) {
	addr := devAgent(t)
	if out, errOut, code := runMk(t, addr, "job", "run", writeJob(t, "net.hcl", podNetJob)); code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := runMk(t, addr, "pod", "list", "-json", "-job", "net")
	if code != 0 {
		t.Fatalf("pod list: %d %s", code, errOut)
	}
	var pods []struct {
		ID, IP string
	}
	if err := json.Unmarshal([]byte(out), &pods); err != nil || len(pods) != 2 {
		t.Fatalf("pod list -json: %v\n%s", err, out)
	}
	_, subnet, _ := net.ParseCIDR("10.42.0.0/16")
	for _, p := range pods {
		if ip := net.ParseIP(p.IP); ip == nil || !subnet.Contains(ip) {
			t.Fatalf("pod %s has IP %q, want one of the pod CIDR pool", p.ID, p.IP)
		}
	}
	a, b := pods[0], pods[1]
	if a.IP == b.IP {
		t.Fatalf("both pods have %s", a.IP)
	}
	if table, _, _ := runMk(t, addr, "pod", "list", "-job", "net"); !strings.Contains(table, a.IP) {
		t.Errorf("pod list does not show the IP:\n%s", table)
	}
	if st, _, _ := runMk(t, addr, "pod", "status", a.ID); !strings.Contains(st, a.IP) {
		t.Errorf("pod status does not show the IP:\n%s", st)
	}
	exec := func(task string, cmd ...string) string {
		t.Helper()
		out, errOut, code := runMk(t, addr, append([]string{"pod", "exec", "-task", task, a.ID, "--"}, cmd...)...)
		if code != 0 {
			t.Fatalf("pod exec %q: %d\n%s%s", cmd, code, out, errOut)
		}
		return out
	}
	if eth0 := exec("server", "busybox", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(eth0, a.IP+"/24") {
		t.Errorf("eth0 in the pod:\n%s", eth0)
	}
	if resolv := exec("side", "cat", "/etc/resolv.conf"); !strings.Contains(resolv, "search default.svc.mk.local svc.mk.local mk.local") {
		t.Errorf("resolv.conf in the pod:\n%s", resolv)
	}
	if got := exec("side", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"); got != "hi from "+a.IP+"\n" {
		t.Errorf("over localhost: %q", got)
	}
	if got := exec("side", "busybox", "wget", "-q", "-O", "-", "http://"+b.IP+":8080/"); got != "hi from "+b.IP+"\n" {
		t.Errorf("pod to pod: %q", got)
	}
	runMk(t, addr, "job", "stop", "net")
}
