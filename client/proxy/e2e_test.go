package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/mk-orchestrator/mk/structs"
)

// podNet is a "node" namespace with two "pod" namespaces, each on its own
// veth pair: pod i has 10.42.i.5/24, the node 10.42.i.1/24. The node has
// 192.168.77.1 on an uplink with the default route, as a host would.
type podNet struct {
	node *testNS
	pods []*testNS
}

const nodeAddr = "192.168.77.1"

func newPodNet(t *testing.T) *podNet {
	t.Helper()
	n := &podNet{node: newTestNS(t)}
	// A veth pair whose other end leads nowhere: this kernel may lack
	// the dummy link type.
	dummy := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink"}, PeerName: "uplink-end"}
	mustLink(t, n.node.link.LinkAdd(dummy), "add uplink")
	end, err := n.node.link.LinkByName("uplink-end")
	mustLink(t, err, "find uplink end")
	mustLink(t, n.node.link.LinkSetUp(end), "uplink end up")
	mustLink(t, n.node.link.AddrAdd(dummy, mustAddr(t, nodeAddr+"/24")), "address uplink")
	mustLink(t, n.node.link.LinkSetUp(dummy), "uplink up")
	mustLink(t, n.node.link.RouteAdd(&netlink.Route{LinkIndex: dummy.Attrs().Index, Gw: net.ParseIP("192.168.77.254")}), "default route")
	n.node.sh(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	for i := 1; i <= 2; i++ {
		pod := newTestNS(t)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("pod%d", i)}, PeerName: "eth0",
			PeerNamespace: netlink.NsFd(pod.handle)}
		mustLink(t, n.node.link.LinkAdd(veth), "add veth")
		mustLink(t, n.node.link.AddrAdd(veth, mustAddr(t, fmt.Sprintf("10.42.%d.1/24", i))), "address node side")
		mustLink(t, n.node.link.LinkSetUp(veth), "node side up")
		eth0, err := pod.link.LinkByName("eth0")
		mustLink(t, err, "find pod side")
		mustLink(t, pod.link.AddrAdd(eth0, mustAddr(t, fmt.Sprintf("10.42.%d.5/24", i))), "address pod side")
		mustLink(t, pod.link.LinkSetUp(eth0), "pod side up")
		mustLink(t, pod.link.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.ParseIP(fmt.Sprintf("10.42.%d.1", i))}), "pod default route")
		n.pods = append(n.pods, pod)
	}
	return n
}

func mustLink(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustAddr(t *testing.T, cidr string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// serve listens on :8080 in pod i and answers each connection with
// "pod<i> <peer address>".
func (n *podNet) serve(t *testing.T, i int) {
	t.Helper()
	var l net.Listener
	err := n.pods[i-1].do(func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf("10.42.%d.5:8080", i))
		return err
	})
	if err != nil {
		t.Fatalf("listen in pod%d: %v", i, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			peer, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "pod%d %s\n", i, peer)
			c.Close()
		}
	}()
}

// ask connects from ns to addr and returns the answer's two words.
func ask(ns *testNS, addr string) (pod, peer string, err error) {
	var c net.Conn
	if err := ns.do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 3*time.Second)
		return err
	}); err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", fmt.Errorf("read from %s: %w", addr, err)
	}
	pod, peer, _ = strings.Cut(strings.TrimSpace(line), " ")
	return pod, peer, nil
}

// TestPacketsReachPods programs a ClusterIP and NodePort service in the
// node namespace and connects through them: from the node, from the
// node's 127.0.0.1, and from a pod back to itself (hairpin); with no
// ready endpoint the connection is refused at once.
func TestPacketsReachPods(t *testing.T) {
	for _, b := range backends {
		t.Run(b.mode, func(t *testing.T) {
			requireTools(t, b.tools...)
			n := newPodNet(t)
			n.serve(t, 1)
			n.serve(t, 2)
			w := b.newWriter(n.node.run)
			web := svc("web", "10.96.0.10", &structs.ServicePort{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080, NodePort: 30080})
			both := eps("web", ep("web-1", "10.42.1.5", true, nil), ep("web-2", "10.42.2.5", true, nil))
			mustSync(t, w, Compute([]*structs.Service{web}, []*structs.Endpoints{both}, testNode), false)

			seen := map[string]int{}
			for i := 0; i < 40; i++ {
				pod, peer, err := ask(n.node, "10.96.0.10:80")
				if err != nil {
					t.Fatalf("connect to the ClusterIP: %v", err)
				}
				// From outside the pod CIDR pool: masqueraded to the
				// node's address on the pod's link.
				if want := "10.42." + pod[3:] + ".1"; peer != want {
					t.Fatalf("%s saw the node as %s, want %s (masqueraded)", pod, peer, want)
				}
				seen[pod]++
			}
			if seen["pod1"] == 0 || seen["pod2"] == 0 {
				t.Errorf("40 connections reached %v, want both pods", seen)
			}
			for _, addr := range []string{nodeAddr + ":30080", "127.0.0.1:30080"} {
				if _, _, err := ask(n.node, addr); err != nil {
					t.Errorf("NodePort %s: %v", addr, err)
				}
			}

			// Session affinity: every connection from the node goes to
			// the pod the first one reached.
			sticky := svc("sticky", "10.96.0.11", &structs.ServicePort{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080})
			sticky.SessionAffinity = structs.SessionAffinityClientIP
			stickyEps := eps("sticky", ep("sticky-1", "10.42.1.5", true, nil), ep("sticky-2", "10.42.2.5", true, nil))
			mustSync(t, w, Compute([]*structs.Service{web, sticky}, []*structs.Endpoints{both, stickyEps}, testNode), false)
			first := ""
			for i := 0; i < 20; i++ {
				pod, _, err := ask(n.node, "10.96.0.11:80")
				if err != nil {
					t.Fatalf("connect to the sticky ClusterIP: %v", err)
				}
				if first == "" {
					first = pod
				} else if pod != first {
					t.Fatalf("connection %d with session affinity reached %s, the first reached %s", i, pod, first)
				}
			}

			// Hairpin: pod1 reaches itself through the service, seen as
			// coming from the node, not from itself. The node's own
			// subnet is pod1's: nftables keeps its hairpin element alone.
			one := eps("web", ep("web-1", "10.42.1.5", true, nil), ep("web-2", "10.42.2.5", false, nil))
			local := testNode
			local.PodCIDR = "10.42.1.0/24"
			mustSync(t, w, Compute([]*structs.Service{web}, []*structs.Endpoints{one}, local), false)
			pod, peer, err := ask(n.pods[0], "10.96.0.10:80")
			if err != nil || pod != "pod1" || peer != "10.42.1.1" {
				t.Errorf("hairpin from pod1 = %s %s, %v; want pod1 seeing 10.42.1.1", pod, peer, err)
			}
			// pod2 reaches pod1 with its own address (no masquerade
			// inside the pool).
			if pod, peer, err := ask(n.pods[1], "10.96.0.10:80"); err != nil || pod != "pod1" || peer != "10.42.2.5" {
				t.Errorf("pod2 to the service = %s %s, %v; want pod1 seeing 10.42.2.5", pod, peer, err)
			}

			none := eps("web", ep("web-1", "10.42.1.5", false, nil))
			mustSync(t, w, Compute([]*structs.Service{web}, []*structs.Endpoints{none}, testNode), false)
			for _, from := range []*testNS{n.node, n.pods[1]} {
				for _, addr := range []string{"10.96.0.10:80", nodeAddr + ":30080"} {
					start := time.Now()
					_, _, err := ask(from, addr)
					if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
						t.Errorf("%s from %s without endpoints: %v after %s, want connection refused at once", addr, from.name, err, time.Since(start))
					}
				}
			}
		})
	}
}

// TestConntrackDeletesFlows runs the real conntrack in a namespace.
func TestConntrackDeletesFlows(t *testing.T) {
	requireTools(t, "conntrack")
	ns := newTestNS(t)
	insert := func(replySrc string) {
		ns.sh(t, "conntrack", "-I", "-p", "udp", "-s", "10.42.9.9", "-d", "10.96.0.53", "--sport", "1000", "--dport", "53",
			"-r", replySrc, "-q", "10.42.9.9", "--reply-port-src", "53", "--reply-port-dst", "1000", "--timeout", "100")
	}
	insert("10.42.1.3")
	ctx := context.Background()
	gone := []udpFlows{{origDst: "10.96.0.53", origPort: 53, replySrc: "10.42.7.7"}}
	if err := deleteUDPFlows(ctx, ns.run, gone); err != nil {
		t.Fatalf("deleting nothing failed: %v", err)
	}
	if out := ns.sh(t, "conntrack", "-L", "-p", "udp"); !strings.Contains(out, "10.42.1.3") {
		t.Fatalf("a flow to another endpoint was deleted:\n%s", out)
	}
	gone[0].replySrc = "10.42.1.3"
	if err := deleteUDPFlows(ctx, ns.run, gone); err != nil {
		t.Fatal(err)
	}
	if out := ns.sh(t, "conntrack", "-L", "-p", "udp"); strings.Contains(out, "10.96.0.53") {
		t.Fatalf("the flow to the gone endpoint remains:\n%s", out)
	}
}
