package network

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/mk-orchestrator/mk/structs"
)

func TestSetupBridgeAndRules(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	h := e.hostHandle(t)
	br, err := h.LinkByName("mk0")
	if err != nil {
		t.Fatal(err)
	}
	if br.Type() != "bridge" || br.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("mk0 is %s, flags %v; want an up bridge", br.Type(), br.Attrs().Flags)
	}
	addrs, err := h.AddrList(br, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "10.42.1.1/24" {
		t.Fatalf("mk0 addresses = %v (%v), want 10.42.1.1/24", addrs, err)
	}
	if v := readInNS(t, e.host, "/proc/sys/net/ipv4/ip_forward"); v != "1" {
		t.Fatalf("ip_forward = %s", v)
	}
	masq := e.rules(t, "nat", ChainMasquerade)
	if len(masq) != 3 || !strings.Contains(masq[2], "-s 10.42.0.0/16 ! -d 10.42.0.0/16 -j MASQUERADE") {
		t.Fatalf("%s = %q", ChainMasquerade, masq)
	}
	// Setup again changes nothing: no second jump, the same chains.
	before := map[string][]string{}
	for _, tc := range [][2]string{{"nat", "POSTROUTING"}, {"filter", "FORWARD"}, {"nat", "PREROUTING"}, {"nat", "OUTPUT"}, {"filter", ChainForward}} {
		before[tc[0]+"/"+tc[1]] = e.rules(t, tc[0], tc[1])
	}
	if err := e.m.Setup(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{{"nat", "POSTROUTING"}, {"filter", "FORWARD"}, {"nat", "PREROUTING"}, {"nat", "OUTPUT"}, {"filter", ChainForward}} {
		after := e.rules(t, tc[0], tc[1])
		if strings.Join(after, "\n") != strings.Join(before[tc[0]+"/"+tc[1]], "\n") {
			t.Fatalf("%s/%s changed by a second Setup:\n%q\n%q", tc[0], tc[1], before[tc[0]+"/"+tc[1]], after)
		}
	}
	fwd := e.rules(t, "filter", "FORWARD")
	if len(fwd) < 2 || !strings.Contains(fwd[1], "-j "+ChainForward) {
		t.Fatalf("FORWARD does not jump to %s first: %q", ChainForward, fwd)
	}
}

func TestCreatePodNamespace(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	pn, err := e.m.CreatePod(&PodRequest{ID: "pod-a", Namespace: "shop", ResolvConfPath: resolv})
	if err != nil {
		t.Fatal(err)
	}
	if pn.IP.String() != "10.42.1.2" || pn.Gateway.String() != "10.42.1.1" || pn.NetNSPath != filepath.Join(e.stateDir, "pod-a") {
		t.Fatalf("pod network = %+v", pn)
	}
	ph, err := openHandle(pn.NetNSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := ph.AddrList(eth0, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.42.1.2/24" || eth0.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("eth0: addresses %v, flags %v", addrs, eth0.Attrs().Flags)
	}
	lo, _ := ph.LinkByName("lo")
	if lo == nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Fatal("lo is not up in the pod")
	}
	routes, _ := ph.RouteList(eth0, netlink.FAMILY_V4)
	var def bool
	for _, r := range routes {
		def = def || (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(pn.Gateway)
	}
	if !def {
		t.Fatalf("no default route via the gateway in the pod: %v", routes)
	}
	veth, err := e.hostHandle(t).LinkByName(pn.HostVeth)
	br, _ := e.hostHandle(t).LinkByName("mk0")
	if err != nil || veth.Attrs().MasterIndex != br.Attrs().Index || len(pn.HostVeth) > 15 {
		t.Fatalf("host veth %q: %v, master %d, bridge %d", pn.HostVeth, err, veth.Attrs().MasterIndex, br.Attrs().Index)
	}
	b, err := os.ReadFile(resolv)
	if err != nil {
		t.Fatal(err)
	}
	want := "nameserver 10.42.1.1\nsearch shop.svc.mk.local svc.mk.local mk.local\noptions ndots:5\n"
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("resolv.conf = %q, want it to end with %q", b, want)
	}
	// Again (a restarted client): the same network.
	again, err := e.m.CreatePod(&PodRequest{ID: "pod-a", Namespace: "shop"})
	if err != nil || !again.IP.Equal(pn.IP) {
		t.Fatalf("second CreatePod = %+v, %v", again, err)
	}
}

func TestPodToPodAndGateway(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	a, err := e.m.CreatePod(&PodRequest{ID: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.m.CreatePod(&PodRequest{ID: "pod-b"})
	if err != nil {
		t.Fatal(err)
	}
	if a.IP.Equal(b.IP) {
		t.Fatalf("two pods got %s", a.IP)
	}
	l := listen(t, b.NetNSPath, net.JoinHostPort(b.IP.String(), "0"))
	src, err := dial(a.NetNSPath, l.Addr().String())
	if err != nil {
		t.Fatalf("pod a to pod b: %v", err)
	}
	if src != a.IP.String() {
		t.Fatalf("pod b saw %s, want pod a's own address %s (no NAT)", src, a.IP)
	}
	gw := listen(t, e.host, net.JoinHostPort(a.Gateway.String(), "0"))
	if src, err := dial(a.NetNSPath, gw.Addr().String()); err != nil || src != a.IP.String() {
		t.Fatalf("pod a to the gateway: %q, %v", src, err)
	}
}

// TestReusedAddressReachableAtOnce: an address given out again is
// reachable from the host at once, though the bridge still has a
// neighbour entry with the last owner's MAC (the kernel would only probe
// it again after seconds).
func TestReusedAddressReachableAtOnce(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	host := e.hostHandle(t)
	br, err := host.LinkByName("mk0")
	if err != nil {
		t.Fatal(err)
	}
	stale := &netlink.Neigh{LinkIndex: br.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_STALE,
		IP: net.ParseIP("10.42.1.2"), HardwareAddr: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x2a}}
	if err := host.NeighSet(stale); err != nil {
		t.Fatal(err)
	}
	pn, err := e.m.CreatePod(&PodRequest{ID: "pod-a"})
	if err != nil || !pn.IP.Equal(stale.IP) {
		t.Fatalf("CreatePod = %+v, %v; want address %s", pn, err, stale.IP)
	}
	l := listen(t, pn.NetNSPath, net.JoinHostPort(pn.IP.String(), "0"))
	if src, err := dial(e.host, l.Addr().String()); err != nil || src != pn.Gateway.String() {
		t.Fatalf("host to the pod: %q, %v", src, err)
	}
}

func TestDestroyPodRemovesEverything(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	ports := []*structs.AllocatedPort{{Label: "http", Value: 18080, To: 80}}
	pn, err := e.m.CreatePod(&PodRequest{ID: "pod-a", Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.rules(t, "nat", ChainHostPorts); len(r) != 3 {
		t.Fatalf("host port rules = %q, want tcp and udp", r)
	}
	if r := e.rules(t, "nat", ChainHostPortsMasq); len(r) != 2 {
		t.Fatalf("host port hairpin rules = %q, want one", r)
	}
	if err := e.m.DestroyPod("pod-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pn.NetNSPath); !os.IsNotExist(err) {
		t.Fatalf("namespace file: %v", err)
	}
	if _, err := e.hostHandle(t).LinkByName(pn.HostVeth); err == nil {
		t.Fatal("host veth left")
	}
	if r := e.rules(t, "nat", ChainHostPorts); len(r) != 1 {
		t.Fatalf("host port rules left: %q", r)
	}
	if r := e.rules(t, "nat", ChainHostPortsMasq); len(r) != 1 {
		t.Fatalf("host port hairpin rules left: %q", r)
	}
	if leases, _ := e.db.IPLeases(); len(leases) != 0 {
		t.Fatalf("leases left: %+v", leases)
	}
	if err := e.m.DestroyPod("pod-a"); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
}

func TestReconcileAfterRestart(t *testing.T) {
	e := newTestEnv(t, "10.42.1.0/24")
	ports := []*structs.AllocatedPort{{Label: "http", Value: 18081, To: 80}}
	keep, err := e.m.CreatePod(&PodRequest{ID: "keep", Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := e.m.CreatePod(&PodRequest{ID: "gone", Ports: []*structs.AllocatedPort{{Label: "http", Value: 18082, To: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	// A listener in the kept pod stays up across the "restart".
	l := listen(t, keep.NetNSPath, net.JoinHostPort(keep.IP.String(), "80"))
	// The client dies (kill -9: nothing is cleaned) and starts again.
	m2 := e.manager(t)
	defer m2.Close()
	if err := m2.Setup(); err != nil {
		t.Fatal(err)
	}
	if err := m2.Reconcile(map[string]bool{"keep": true}); err != nil {
		t.Fatal(err)
	}
	again, err := m2.CreatePod(&PodRequest{ID: "keep", Ports: ports})
	if err != nil || !again.IP.Equal(keep.IP) {
		t.Fatalf("recovered pod network = %+v, %v; want IP %s", again, err, keep.IP)
	}
	if _, err := dial(e.host, l.Addr().String()); err != nil {
		t.Fatalf("kept pod unreachable: %v", err)
	}
	if _, err := os.Stat(gone.NetNSPath); !os.IsNotExist(err) {
		t.Fatalf("namespace of the gone pod: %v", err)
	}
	if _, err := e.hostHandle(t).LinkByName(gone.HostVeth); err == nil {
		t.Fatal("veth of the gone pod left")
	}
	r := strings.Join(e.rules(t, "nat", ChainHostPorts), "\n")
	if strings.Contains(r, ":gone") || strings.Count(r, ":keep") != 2 {
		t.Fatalf("host port rules after reconcile:\n%s", r)
	}
	leases, _ := e.db.IPLeases()
	if len(leases) != 1 || leases[0].PodID != "keep" {
		t.Fatalf("leases = %+v", leases)
	}
	// The released address is not handed out again at once.
	next, err := m2.CreatePod(&PodRequest{ID: "new"})
	if err != nil || next.IP.Equal(gone.IP) || next.IP.Equal(keep.IP) {
		t.Fatalf("new pod = %+v, %v (gone had %s)", next, err, gone.IP)
	}
}
