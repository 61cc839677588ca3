package proxy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mk-orchestrator/mk/structs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var testNode = NodeInfo{PodCIDRPool: "10.42.0.0/16", ServiceCIDR: "10.96.0.0/16", LocalhostNodePorts: true}

func svc(name, ip string, ports ...*structs.ServicePort) *structs.Service {
	return &structs.Service{ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: "default"},
		Type: structs.ServiceTypeClusterIP, ClusterIP: ip, Ports: ports}
}

func tcpPort(name string, port, target int) *structs.ServicePort {
	return &structs.ServicePort{Name: name, Protocol: "tcp", Port: port, TargetPort: target}
}

func eps(name string, endpoints ...*structs.Endpoint) *structs.Endpoints {
	return &structs.Endpoints{ObjectMeta: structs.ObjectMeta{ID: name, Name: name, Namespace: "default"}, Endpoints: endpoints}
}

func ep(pod, ip string, ready bool, ports map[string]int) *structs.Endpoint {
	return &structs.Endpoint{PodID: pod, PodName: pod, IP: ip, Ready: ready, Ports: ports}
}

type computeCase struct {
	name      string
	services  []*structs.Service
	endpoints []*structs.Endpoints
	node      NodeInfo
}

func computeCases() []computeCase {
	web := svc("web", "10.96.0.10", tcpPort("http", 80, 8080))
	nodePort := svc("web", "10.96.0.10", &structs.ServicePort{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080, NodePort: 30080})
	nodePort.Type = structs.ServiceTypeNodePort
	sticky := svc("web", "10.96.0.10", tcpPort("http", 80, 8080))
	sticky.SessionAffinity = structs.SessionAffinityClientIP
	dns := svc("dns", "10.96.0.53", &structs.ServicePort{Name: "dns", Protocol: "udp", Port: 53, TargetPort: 5353})
	multi := svc("app", "10.96.1.1", tcpPort("http", 80, 8080), tcpPort("admin", 9000, 9000))
	two := eps("web", ep("web-a", "10.42.1.5", true, nil), ep("web-b", "10.42.2.7", true, nil))
	return []computeCase{
		{"one_service_two_endpoints", []*structs.Service{web}, []*structs.Endpoints{two}, testNode},
		{"no_ready_endpoints", []*structs.Service{web}, []*structs.Endpoints{
			eps("web", ep("web-a", "10.42.1.5", false, nil))}, testNode},
		{"nodeport", []*structs.Service{nodePort}, []*structs.Endpoints{two}, testNode},
		{"nodeport_no_endpoints", []*structs.Service{nodePort}, nil, testNode},
		{"nodeport_addresses", []*structs.Service{nodePort}, []*structs.Endpoints{two},
			NodeInfo{PodCIDRPool: "10.42.0.0/16", NodePortAddresses: []string{"192.168.1.10"}}},
		{"session_affinity", []*structs.Service{sticky}, []*structs.Endpoints{two}, testNode},
		{"udp", []*structs.Service{dns}, []*structs.Endpoints{eps("dns",
			ep("dns-a", "10.42.1.9", true, nil), ep("dns-b", "10.42.3.2", true, nil), ep("dns-c", "10.42.3.3", true, nil))}, testNode},
		// Host-mode pods each bring their own port per name; a port name
		// an endpoint lacks falls back to the service's TargetPort.
		{"multiple_ports", []*structs.Service{multi}, []*structs.Endpoints{eps("app",
			ep("app-a", "192.168.1.10", true, map[string]int{"http": 21000, "admin": 21001}),
			ep("app-b", "10.42.1.6", true, nil))}, testNode},
		// Without a pod CIDR pool only NodePort and hairpin traffic (a pod
		// reaching itself through its service) is masqueraded.
		{"hairpin_without_pool", []*structs.Service{web}, []*structs.Endpoints{two}, NodeInfo{}},
		// A ClusterIP given before the service range changed: nftables
		// marks its traffic from outside the pool in its own chain.
		{"cluster_ip_outside_service_cidr", []*structs.Service{web}, []*structs.Endpoints{two},
			NodeInfo{PodCIDRPool: "10.42.0.0/16", ServiceCIDR: "10.97.0.0/16", LocalhostNodePorts: true}},
		// With the node's own subnet known, nftables keeps a hairpin
		// element only for the endpoint on this node (10.42.1.5).
		{"hairpin_local_only", []*structs.Service{web}, []*structs.Endpoints{two},
			NodeInfo{PodCIDRPool: "10.42.0.0/16", PodCIDR: "10.42.1.0/24", LocalhostNodePorts: true}},
	}
}

// TestComputeGolden renders each case's Ruleset as the first (full) sync
// of both writers would write it and compares with testdata; -update
// rewrites the files.
func TestComputeGolden(t *testing.T) {
	for _, tc := range computeCases() {
		t.Run(tc.name, func(t *testing.T) {
			rs := Compute(tc.services, tc.endpoints, tc.node)
			if len(rs.Problems) > 0 {
				t.Fatalf("problems: %v", rs.Problems)
			}
			chains, _ := renderIPTables(rs, nil, nil)
			var ipt bytes.Buffer
			writeFullRestore(&ipt, chains, &iptState{chains: map[string]bool{}, jumps: map[string]bool{}})
			golden(t, tc.name+".iptables.golden", ipt.Bytes())

			want, _ := renderNFTables(rs, nil, nil, nil)
			var nft bytes.Buffer
			writeFull(&nft, &SyncResult{}, want, &nftExisting{chains: map[string]bool{}, sets: map[string]bool{}, maps: map[string]bool{}})
			golden(t, tc.name+".nftables.golden", nft.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

func TestComputeEndpointsAndPorts(t *testing.T) {
	multi := svc("app", "10.96.1.1", tcpPort("http", 80, 8080), tcpPort("admin", 9000, 9000))
	rs := Compute([]*structs.Service{multi}, []*structs.Endpoints{eps("app",
		ep("app-b", "10.42.1.6", true, nil),
		ep("app-a", "192.168.1.10", true, map[string]int{"http": 21000}),
		ep("app-down", "10.42.1.7", false, nil),
		ep("app-dup", "10.42.1.6", true, nil),
	)}, testNode)
	got := map[string][]string{}
	for _, sp := range rs.ServicePorts {
		for _, tg := range sp.Endpoints {
			got[sp.PortName] = append(got[sp.PortName], tg.Addr())
		}
	}
	want := map[string][]string{
		"admin": {"10.42.1.6:9000", "192.168.1.10:9000"},
		"http":  {"10.42.1.6:8080", "192.168.1.10:21000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ready targets (-want +got):\n%s", diff)
	}
	if rs.ServicePorts[0].PortName != "admin" || rs.ServicePorts[0].ID == rs.ServicePorts[1].ID {
		t.Errorf("service ports not sorted by name or IDs not distinct: %+v %+v", rs.ServicePorts[0], rs.ServicePorts[1])
	}
}

func TestComputeSkipsWhatItCannotServe(t *testing.T) {
	noIP := svc("pending", "", tcpPort("http", 80, 8080))
	sctp := svc("odd", "10.96.0.2", &structs.ServicePort{Name: "x", Protocol: "sctp", Port: 1})
	badNodePort := svc("np", "10.96.0.3", &structs.ServicePort{Name: "x", Protocol: "tcp", Port: 1, NodePort: 80})
	noPort := svc("np2", "10.96.0.4", tcpPort("http", 80, 0))
	rs := Compute([]*structs.Service{noIP, sctp, badNodePort, noPort},
		[]*structs.Endpoints{eps("np2", ep("a", "10.42.0.9", true, nil), ep("b", "not-an-ip", true, map[string]int{"http": 1}))}, testNode)
	if len(rs.ServicePorts) != 1 || rs.ServicePorts[0].Service != "np2" || len(rs.ServicePorts[0].Endpoints) != 0 {
		t.Fatalf("service ports = %+v, want only np2 without endpoints", rs.ServicePorts)
	}
	joined := strings.Join(rs.Problems, "\n")
	for _, want := range []string{"pending: no IPv4 ClusterIP", `protocol "sctp"`, "NodePort 80 outside", `skipped endpoints a ("10.42.0.9" port 0), b ("not-an-ip" port 1)`} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
}

// TestChainNamesStable pins the hash: chains outlive the process, so a
// new version must name the same service port's chain the same way.
func TestChainNamesStable(t *testing.T) {
	got := hashID("default", "web", "http", "tcp")
	if got != hashID("default", "web", "http", "tcp") || len(got) != 16 {
		t.Fatalf("hashID not stable or not 16 characters: %q", got)
	}
	if got == hashID("default", "web", "http", "udp") || got == hashID("default", "webh", "ttp", "tcp") {
		t.Fatal("hashID does not separate its parts")
	}
	const pinned = "MK-SVC-" // + the value below, as golden files show
	if name := pinned + got; len(name) > 28 {
		t.Fatalf("chain name %q longer than iptables allows", name)
	}
}

// TestPortCacheRecomputesOnlyWhatChanged checks that the proxy's cache
// gives Compute's result, reuses a service's ports while its indexes and
// its endpoints' stay, and recomputes them when either moves.
func TestPortCacheRecomputesOnlyWhatChanged(t *testing.T) {
	indexed := func(s *structs.Service, e *structs.Endpoints, si, ei uint64) (*structs.Service, *structs.Endpoints) {
		s.ModifyIndex, e.ModifyIndex = si, ei
		return s, e
	}
	web, webEps := indexed(svc("web", "10.96.0.10", tcpPort("http", 80, 8080)),
		eps("web", ep("web-a", "10.42.1.5", true, nil)), 10, 11)
	api, apiEps := indexed(svc("api", "10.96.0.11", tcpPort("http", 80, 8080)),
		eps("api", ep("api-a", "10.42.1.6", true, nil)), 12, 13)
	c := newPortCache()
	first := c.compute([]*structs.Service{web, api}, []*structs.Endpoints{webEps, apiEps}, testNode)
	if diff := cmp.Diff(Compute([]*structs.Service{web, api}, []*structs.Endpoints{webEps, apiEps}, testNode), first); diff != "" {
		t.Fatalf("cached compute differs from Compute (-want +got):\n%s", diff)
	}

	// api's endpoints change (a new object with a new index, as a watch
	// delivers it); web's arrive again as new objects with the same
	// indexes.
	web2, webEps2 := indexed(svc("web", "10.96.0.10", tcpPort("http", 80, 8080)),
		eps("web", ep("web-a", "10.42.1.5", true, nil)), 10, 11)
	apiEps2 := eps("api", ep("api-a", "10.42.1.6", true, nil), ep("api-b", "10.42.2.6", true, nil))
	apiEps2.ModifyIndex = 20
	second := c.compute([]*structs.Service{web2, api}, []*structs.Endpoints{webEps2, apiEps2}, testNode)
	if portOf(second, "web") != portOf(first, "web") {
		t.Error("web did not change but its port was computed again")
	}
	if got := portOf(second, "api"); got == portOf(first, "api") || len(got.Endpoints) != 2 {
		t.Errorf("api's endpoints changed but its port is %+v", got)
	}
	if diff := cmp.Diff(Compute([]*structs.Service{web2, api}, []*structs.Endpoints{webEps2, apiEps2}, testNode), second); diff != "" {
		t.Fatalf("cached compute differs from Compute (-want +got):\n%s", diff)
	}

	// A service without indexes is computed every time; another node
	// setting drops the cache.
	bare := svc("bare", "10.96.0.12", tcpPort("http", 80, 8080))
	third := c.compute([]*structs.Service{web2, bare}, []*structs.Endpoints{webEps2}, testNode)
	fourth := c.compute([]*structs.Service{web2, bare}, []*structs.Endpoints{webEps2}, testNode)
	if portOf(third, "bare") == portOf(fourth, "bare") {
		t.Error("a service without a ModifyIndex was taken from the cache")
	}
	other := c.compute([]*structs.Service{web2}, []*structs.Endpoints{webEps2}, NodeInfo{})
	if portOf(other, "web") == portOf(fourth, "web") {
		t.Error("a change of node settings kept the cache")
	}
	if len(third.ServicePorts) != 2 || portOf(third, "api") != nil {
		t.Errorf("after api went, the ruleset has %d ports", len(third.ServicePorts))
	}
}

// TestRenderCacheMatchesFreshRender renders a second sync through the
// writers' caches, where one service changed, and checks it gives what
// a render from nothing gives: reused chains are the same, and the
// changed service's are new.
func TestRenderCacheMatchesFreshRender(t *testing.T) {
	services, endpoints := fixture(20, 3)
	for i, s := range services {
		s.ModifyIndex, endpoints[i].ModifyIndex = uint64(2*i+1), uint64(2*i+2)
	}
	pc := newPortCache()
	var iptCache renderCache[[]*chain]
	var nftCache renderCache[*nftRules]
	slots := newEndpointSlots()
	renderIPTables(pc.compute(services, endpoints, testNode), nil, &iptCache)
	renderNFTables(pc.compute(services, endpoints, testNode), nil, &nftCache, slots)

	changed := eps("svc-00007", ep("a", "10.42.9.1", true, nil), ep("b", "10.42.9.2", true, nil))
	changed.ModifyIndex = 100
	endpoints[7] = changed
	rs := pc.compute(services, endpoints, testNode)
	fresh := Compute(services, endpoints, testNode)

	gotIPT, _ := renderIPTables(rs, nil, &iptCache)
	wantIPT, _ := renderIPTables(fresh, nil, nil)
	// A fresh set of slots hands them out in the same order.
	gotNFT, _ := renderNFTables(rs, nil, &nftCache, slots)
	wantNFT, _ := renderNFTables(fresh, nil, nil, nil)
	opts := cmp.Options{cmp.AllowUnexported(chain{}, element{}, nftRules{}, nftSet{}), cmpopts.IgnoreFields(chain{}, "hash"),
		cmpopts.EquateComparable(stmtMarkMasq{}, stmtSaddrNotIn{}, stmtSaddrInSet{}, stmtUpdateSet{}, stmtNumgenIs{}, stmtDNAT{}, stmtDNATMap{}, stmtGoto{})}
	if diff := cmp.Diff(wantIPT, gotIPT, opts); diff != "" {
		t.Errorf("iptables through the cache (-fresh +cached):\n%s", diff)
	}
	if diff := cmp.Diff(wantNFT, gotNFT, opts); diff != "" {
		t.Errorf("nftables through the cache (-fresh +cached):\n%s", diff)
	}
	if !strings.Contains(string(bytes.Join(chainBodies(gotIPT), nil)), "10.42.9.2:8080") {
		t.Error("the changed endpoints are not in the iptables rules")
	}
}

func chainBodies(chains []*chain) [][]byte {
	var out [][]byte
	for _, c := range chains {
		out = append(out, c.body)
	}
	return out
}
