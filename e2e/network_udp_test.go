package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// udpJob is the UDP service "resolver": two pods on client-1 and
// client-2. Nothing in them listens: conntrack keeps a flow DNATed to a
// pod whether or not the pod answers (it answers ICMP port unreachable).
// A killed task restarts after 30s, long enough for the test to see its
// endpoint go.
const udpJob = `job "resolver" {
  type = "service"
  group "resolver" {
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
      port "dns" {
        to = 5353
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
      name     = "resolver"
      port     = "dns"
      protocol = "udp"
    }
    task "idle" {
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

// udpSourcePort is the port client-3's "resolver client" sends from, as a
// stub resolver that keeps one socket does.
const udpSourcePort = 40053

// testUDPConntrack sends a datagram every 100 ms from one source port on
// client-3 to the UDP service's ClusterIP, so that conntrack keeps one
// flow, DNATed to one endpoint, for as long as the datagrams come. When
// that endpoint's task is killed, the proxy on client-3 must delete the
// flow, so the next datagram is DNATed to the other endpoint; without
// that the flow would stay on the dead pod for good.
func testUDPConntrack(t *testing.T, m *multiHost) {
	m.runJobFile(t, "resolver", udpJob)
	waitEndpointsReady(t, m, "resolver", 2)
	pods := m.podsOn(t, "resolver", 2)
	svc, err := m.API.Service(structs.DefaultNamespace, "resolver", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Ports) != 1 || svc.Ports[0].Protocol != structs.ProtocolUDP {
		t.Fatalf("service resolver: %+v, want one udp port", svc.Ports)
	}
	dst := net.JoinHostPort(svc.ClusterIP, strconv.Itoa(svc.Ports[0].Port))
	client := m.client("client-3")

	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan error, 1)
	go func() { sent <- sendUDPEvery(ctx, client.NS, dst, 100*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-sent; err != nil {
			t.Errorf("send to %s from client-3: %v", dst, err)
		}
	}()

	var first string
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		first, err = udpFlowTarget(client, svc.ClusterIP)
		return first != "", fmt.Errorf("no conntrack flow to %s on client-3: %v", dst, err)
	})
	var victim, survivor *structs.Pod
	for _, p := range pods {
		if p.IP == first {
			victim = p
		} else {
			survivor = p
		}
	}
	if victim == nil || survivor == nil {
		t.Fatalf("the flow goes to %s, not to one of the pods %v", first, pods)
	}
	pod, err := m.API.Pod(victim.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	if err := syscall.Kill(taskPID(pod), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the task of %s: %v", pod.Name, err)
	}
	testutil.WaitFor(t, removalBound, func() (bool, error) {
		now, err := udpFlowTarget(client, svc.ClusterIP)
		return now == survivor.IP, fmt.Errorf("the flow from port %d goes to %q, want %s (the pod left alive): %v",
			udpSourcePort, now, survivor.IP, err)
	})
	t.Logf("the UDP flow moved from %s to %s %s after its task was killed", victim.IP, survivor.IP,
		time.Since(killedAt).Round(time.Millisecond))
}

// sendUDPEvery sends a datagram to dst from udpSourcePort in the network
// namespace ns every period until ctx ends. A send refused by the ICMP
// port unreachable of an earlier datagram is not a failure.
func sendUDPEvery(ctx context.Context, ns, dst string, period time.Duration) error {
	var conn *net.UDPConn
	err := inNetNS(ns, func() error {
		raddr, err := net.ResolveUDPAddr("udp4", dst)
		if err != nil {
			return err
		}
		conn, err = net.DialUDP("udp4", &net.UDPAddr{Port: udpSourcePort}, raddr)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		if _, err := conn.Write([]byte("query\n")); err != nil && !isRefused(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// udpFlowTarget is the address client's conntrack DNATs the flow from
// udpSourcePort to clusterIP to: the reply direction's source.
func udpFlowTarget(client *netHost, clusterIP string) (string, error) {
	out, err := client.Exec("conntrack", "-L", "-p", "udp", "--orig-dst", clusterIP, "--sport", strconv.Itoa(udpSourcePort))
	if err != nil {
		return "", fmt.Errorf("conntrack -L: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		var srcs []string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "src="); ok {
				srcs = append(srcs, v)
			}
		}
		if len(srcs) == 2 {
			return srcs[1], nil
		}
	}
	return "", nil
}
