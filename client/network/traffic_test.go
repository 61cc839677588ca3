package network

import (
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/structs"
)

// outside connects the env's host to a new namespace "outside" on
// 192.168.77.0/24 (host .1, outside .2), as another machine on the LAN.
func (e *testEnv) outside(t *testing.T) string {
	t.Helper()
	out := testNS(t, "outside")
	link(t, e.host, "lan0", "192.168.77.1/24", out, "lan0", "192.168.77.2/24")
	return out
}

func TestMasqueradeOnlyOutsideThePool(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	out := e.outside(t)
	pod, err := e.m.CreatePod(&PodRequest{ID: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, out, "192.168.77.2:0")
	src, err := dial(pod.NetNSPath, l.Addr().String())
	if err != nil {
		t.Fatalf("pod to outside: %v", err)
	}
	if src != "192.168.77.1" {
		t.Fatalf("outside saw %s, want the node's address (masquerade)", src)
	}
}

func TestHostPortDNAT(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	out := e.outside(t)
	ports := []*structs.AllocatedPort{{Label: "http", Value: 18080, To: 8080}}
	pod, err := e.m.CreatePod(&PodRequest{ID: "pod-a", Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	listen(t, pod.NetNSPath, net.JoinHostPort(pod.IP.String(), "8080"))
	// From another machine to the node's address (PREROUTING): the pod
	// sees the caller's own address.
	src, err := dial(out, "192.168.77.1:18080")
	if err != nil || src != "192.168.77.2" {
		t.Fatalf("outside to node port: %q, %v", src, err)
	}
	// From the node itself (OUTPUT).
	if _, err := dial(e.host, "192.168.77.1:18080"); err != nil {
		t.Fatalf("node to its own node port: %v", err)
	}
	// From another pod, and from the pod itself (hairpin: masqueraded,
	// or the pod would get its own packets back from its own address).
	other, err := e.m.CreatePod(&PodRequest{ID: "pod-b"})
	if err != nil {
		t.Fatal(err)
	}
	if src, err := dial(other.NetNSPath, "192.168.77.1:18080"); err != nil || src != other.IP.String() {
		t.Fatalf("another pod to the node port: %q, %v", src, err)
	}
	if src, err := dial(pod.NetNSPath, "192.168.77.1:18080"); err != nil || src != pod.Gateway.String() {
		t.Fatalf("the pod to its own node port: %q, %v; want it from the gateway %s", src, err, pod.Gateway)
	}
	if err := e.m.DestroyPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(out, "192.168.77.1:18080"); err == nil {
		t.Fatal("node port still answers after DestroyPod")
	}
}

func TestSyncRoutesOnlyMksRoutes(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	e.outside(t)
	h := e.hostHandle(t)
	// A route of someone else's, and the default route.
	_, other, _ := net.ParseCIDR("10.99.0.0/16")
	if err := h.RouteAdd(&netlink.Route{Dst: other, Gw: net.ParseIP("192.168.77.9")}); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{Gw: net.ParseIP("192.168.77.254")}); err != nil {
		t.Fatal(err)
	}
	nodes := []*structs.Node{
		{ObjectMeta: structs.ObjectMeta{ID: "node1"}, Status: structs.NodeStatusReady, PodCIDR: "10.42.1.0/24", NetworkAddress: "192.168.77.1"},
		{ObjectMeta: structs.ObjectMeta{ID: "node2"}, Status: structs.NodeStatusReady, PodCIDR: "10.42.2.0/24", NetworkAddress: "192.168.77.2"},
		{ObjectMeta: structs.ObjectMeta{ID: "node3"}, Status: structs.NodeStatusReady, PodCIDR: "10.42.3.0/24", NetworkAddress: "192.168.77.3"},
		{ObjectMeta: structs.ObjectMeta{ID: "down"}, Status: structs.NodeStatusDown, PodCIDR: "10.42.4.0/24", NetworkAddress: "192.168.77.4"},
		{ObjectMeta: structs.ObjectMeta{ID: "nocidr"}, Status: structs.NodeStatusReady, NetworkAddress: "192.168.77.5"},
	}
	if err := e.m.SyncRoutes(nodes); err != nil {
		t.Fatal(err)
	}
	want := "10.42.2.0/24 via 192.168.77.2,10.42.3.0/24 via 192.168.77.3"
	if got := mkRoutes(t, e.m); got != want {
		t.Fatalf("mk routes = %s, want %s", got, want)
	}
	// node3 goes down, node2 moves to another address.
	nodes[2].Status = structs.NodeStatusDown
	nodes[1].NetworkAddress = "192.168.77.20"
	if err := e.m.SyncRoutes(nodes); err != nil {
		t.Fatal(err)
	}
	if got := mkRoutes(t, e.m); got != "10.42.2.0/24 via 192.168.77.20" {
		t.Fatalf("mk routes = %s", got)
	}
	if err := e.m.SyncRoutes(nil); err != nil {
		t.Fatal(err)
	}
	if got := mkRoutes(t, e.m); got != "" {
		t.Fatalf("mk routes left: %s", got)
	}
	all, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, r := range all {
		if r.Table == unix.RT_TABLE_MAIN && r.Gw != nil {
			kept = append(kept, r.Gw.String())
		}
	}
	if strings.Join(kept, ",") != "192.168.77.254,192.168.77.9" && strings.Join(kept, ",") != "192.168.77.9,192.168.77.254" {
		t.Fatalf("routes of others = %v, want the default and 10.99.0.0/16 untouched", kept)
	}
}

func mkRoutes(t *testing.T, m *Manager) string {
	t.Helper()
	rs, err := m.routes()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.Dst.String()+" via "+r.Gw.String())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestPodReachesItselfThroughDNAT: a pod whose connection to a virtual
// address is DNATed back to itself (a service whose endpoint it is)
// gets through. With br_netfilter, a DNAT to an address on the same
// bridge is bridged, not routed, and goes back out the port it came in
// by: only a port in hairpin mode sends it.
func TestPodReachesItselfThroughDNAT(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	pod, err := e.m.CreatePod(&PodRequest{ID: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.m.CreatePod(&PodRequest{ID: "pod-b"})
	if err != nil {
		t.Fatal(err)
	}
	listen(t, pod.NetNSPath, net.JoinHostPort(pod.IP.String(), "8080"))
	// What the service proxy writes for a service 10.96.0.9:80 with
	// this one endpoint: DNAT, and masquerade of the endpoint's own
	// traffic (so the reply comes back through the node).
	err = e.m.iptables(func(ipt *iptables.IPTables) error {
		if err := ipt.Append("nat", "PREROUTING", "-d", "10.96.0.9/32", "-p", "tcp", "--dport", "80",
			"-j", "DNAT", "--to-destination", pod.IP.String()+":8080"); err != nil {
			return err
		}
		return ipt.Append("nat", "POSTROUTING", "-s", pod.IP.String()+"/32", "-d", pod.IP.String()+"/32", "-j", "MASQUERADE")
	})
	if err != nil {
		t.Fatal(err)
	}
	if src, err := dial(other.NetNSPath, "10.96.0.9:80"); err != nil || src != other.IP.String() {
		t.Fatalf("another pod through the DNAT: %q, %v", src, err)
	}
	if src, err := dial(pod.NetNSPath, "10.96.0.9:80"); err != nil || src != pod.Gateway.String() {
		t.Fatalf("the pod to itself through the DNAT: %q, %v; want it to come from the gateway %s (masquerade)", src, err, pod.Gateway)
	}
}
