package proxy

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/structs"
)

// backend is one writer and how a test reads its rules back.
type backend struct {
	mode      string
	tools     []string
	newWriter func(Runner) Writer
	// listing is the kernel's rules as the backend's tool prints them.
	listing func(t *testing.T, ns *testNS) string
	svc     func(sp *ServicePort) string
	// endpoint is what names one endpoint in the listing: its chain in
	// iptables, its DNAT rule in nftables.
	endpoint func(tg *Target) string
}

var backends = []backend{
	{
		mode: ModeIPTables, tools: []string{"iptables-restore", "iptables-save", "iptables", "nft", "sysctl"},
		newWriter: func(r Runner) Writer { return NewIPTables(r, nil) },
		listing:   func(t *testing.T, ns *testNS) string { return ns.iptablesSave(t) },
		svc:       func(sp *ServicePort) string { return iptSvcPrefix + sp.ID },
		endpoint:  func(tg *Target) string { return iptSepPrefix + tg.ID },
	},
	{
		mode: ModeNFTables, tools: []string{"nft", "iptables", "sysctl"},
		newWriter: func(r Runner) Writer { return NewNFTables(r, nil) },
		listing:   func(t *testing.T, ns *testNS) string { return ns.sh(t, "nft", "list", "table", "ip", "mk") },
		svc:       func(sp *ServicePort) string { return nftSvcPrefix + sp.ID },
		endpoint:  func(tg *Target) string { return tg.IP + " . " + strconv.Itoa(tg.Port) }, // an endpoint map element
	},
}

// addForeignRules puts rules of "another program" in the namespace, in
// both iptables and a table of its own, that every sync must leave alone.
func addForeignRules(t *testing.T, ns *testNS) {
	ns.sh(t, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.9.0/24", "-m", "comment", "--comment", "other-program", "-j", "MASQUERADE")
	ns.sh(t, "iptables", "-t", "filter", "-A", "FORWARD", "-m", "comment", "--comment", "other-program", "-j", "DROP")
	// The pod network's chains share the MK- prefix and the tables.
	ns.sh(t, "iptables", "-t", "filter", "-N", "MK-POD-FORWARD")
	ns.sh(t, "iptables", "-t", "filter", "-A", "MK-POD-FORWARD", "-s", "10.42.0.0/16", "-j", "ACCEPT")
	ns.sh(t, "iptables", "-t", "filter", "-I", "FORWARD", "-j", "MK-POD-FORWARD")
	ns.sh(t, "nft", "add table ip other")
	ns.sh(t, "nft", "add chain ip other input { type filter hook input priority 0; }")
	ns.sh(t, "nft", `add rule ip other input tcp dport 9999 counter accept comment "other-program"`)
}

func checkForeignRules(t *testing.T, ns *testNS, when string) {
	t.Helper()
	save := ns.iptablesSave(t)
	for _, want := range []string{
		`-A POSTROUTING -s 10.9.9.0/24 -m comment --comment other-program -j MASQUERADE`,
		`-A FORWARD -m comment --comment other-program -j DROP`,
		`-A MK-POD-FORWARD -s 10.42.0.0/16 -j ACCEPT`,
		`-A FORWARD -j MK-POD-FORWARD`,
	} {
		if !strings.Contains(save, want) {
			t.Errorf("%s: another program's rule %q is gone:\n%s", when, want, save)
		}
	}
	if other := ns.sh(t, "nft", "list", "table", "ip", "other"); !strings.Contains(other, `comment "other-program"`) {
		t.Errorf("%s: table ip other lost its rule:\n%s", when, other)
	}
}

// threeServices is web, api and dns with two ready endpoints each;
// change replaces api's second endpoint.
func threeServices(changeAPI bool) ([]*structs.Service, []*structs.Endpoints) {
	services := []*structs.Service{
		svc("web", "10.96.0.10", tcpPort("http", 80, 8080)),
		svc("api", "10.96.0.11", tcpPort("http", 80, 8080)),
		svc("dns", "10.96.0.53", &structs.ServicePort{Name: "dns", Protocol: "udp", Port: 53, TargetPort: 53, NodePort: 30053}),
	}
	apiB := "10.42.2.2"
	if changeAPI {
		apiB = "10.42.2.9"
	}
	endpoints := []*structs.Endpoints{
		eps("web", ep("web-a", "10.42.1.1", true, nil), ep("web-b", "10.42.2.1", true, nil)),
		eps("api", ep("api-a", "10.42.1.2", true, nil), ep("api-b", apiB, true, nil)),
		eps("dns", ep("dns-a", "10.42.1.3", true, nil), ep("dns-b", "10.42.2.3", true, nil)),
	}
	return services, endpoints
}

func computeThree(changeAPI bool) *Ruleset {
	services, endpoints := threeServices(changeAPI)
	return Compute(services, endpoints, testNode)
}

func portOf(rs *Ruleset, service string) *ServicePort {
	for _, sp := range rs.ServicePorts {
		if sp.Service == service {
			return sp
		}
	}
	return nil
}

func TestWriterSyncs(t *testing.T) {
	for _, b := range backends {
		t.Run(b.mode, func(t *testing.T) {
			requireTools(t, b.tools...)
			ns := newTestNS(t)
			addForeignRules(t, ns)
			w := b.newWriter(ns.run)

			first := computeThree(false)
			res := mustSync(t, w, first, false)
			if !res.Full || res.ChainsWritten < 9 {
				t.Fatalf("first sync = %+v, want a full sync of every chain", res)
			}
			listing := b.listing(t, ns)
			for _, sp := range first.ServicePorts {
				for _, name := range append([]string{b.svc(sp)}, b.endpoint(sp.Endpoints[0]), b.endpoint(sp.Endpoints[1])) {
					if !strings.Contains(listing, name) {
						t.Errorf("after the first sync %s is missing:\n%s", name, listing)
					}
				}
			}
			checkForeignRules(t, ns, "first sync")

			// One endpoint of api changes: only api's chain and the two
			// endpoint chains (new, gone) are written in iptables; in
			// nftables only elements: the endpoint's in api's endpoint map
			// and its hairpin element, each replaced.
			second := computeThree(true)
			res = mustSync(t, w, second, false)
			want := SyncResult{ChainsWritten: 2, ChainsDeleted: 1}
			if b.mode == ModeNFTables {
				want = SyncResult{ElementsWritten: 2, ElementsDeleted: 2}
			}
			if got := (SyncResult{ChainsWritten: res.ChainsWritten, ChainsDeleted: res.ChainsDeleted,
				ElementsWritten: res.ElementsWritten, ElementsDeleted: res.ElementsDeleted}); res.Full || got != want {
				t.Fatalf("endpoint change wrote %+v, want %+v", res, want)
			}
			payload := string(w.(interface{ LastPayload() []byte }).LastPayload())
			for _, other := range []string{"web", "dns"} {
				if strings.Contains(payload, portOf(second, other).ID) {
					t.Errorf("the partial sync touched %s:\n%s", other, payload)
				}
			}
			gone, added := portOf(first, "api").Endpoints[1], portOf(second, "api").Endpoints[1]
			listing = b.listing(t, ns)
			if strings.Contains(listing, b.endpoint(gone)) || !strings.Contains(listing, b.endpoint(added)) || !strings.Contains(listing, "10.42.2.9") {
				t.Errorf("after the endpoint change %s should be gone and %s there:\n%s", b.endpoint(gone), b.endpoint(added), listing)
			}

			if res = mustSync(t, w, second, false); res.Bytes != 0 {
				t.Errorf("a sync without changes wrote %+v", res)
			}

			// dns goes: its chains and map elements go with it.
			services, endpoints := threeServices(true)
			third := Compute(services[:2], endpoints[:2], testNode)
			res = mustSync(t, w, third, false)
			// Its service and two endpoint chains; in nftables its
			// service and NodePort chains, its two map elements, its
			// endpoints' two hairpin elements and their two endpoint map
			// elements (the map goes too: dns was its only port).
			wantChains, wantElements := 3, 0
			if b.mode == ModeNFTables {
				wantChains, wantElements = 2, 6
			}
			if res.ChainsDeleted != wantChains || res.ElementsDeleted != wantElements {
				t.Errorf("removing dns = %+v, want %d chains and %d elements deleted", res, wantChains, wantElements)
			}
			dns := portOf(second, "dns")
			listing = b.listing(t, ns)
			left := []string{dns.ID, b.endpoint(dns.Endpoints[0]), "10.96.0.53", "30053"}
			if b.mode == ModeNFTables {
				left = append(left, nftEndpointsPrefix+"udp-")
			}
			for _, s := range left {
				if strings.Contains(listing, s) {
					t.Errorf("after removing dns, %s is still there:\n%s", s, listing)
				}
			}
			checkForeignRules(t, ns, "after partial syncs")
		})
	}
}

func mustSync(t *testing.T, w Writer, rs *Ruleset, full bool) SyncResult {
	t.Helper()
	res, err := w.Sync(context.Background(), rs, full)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

// TestWriterRestart starts a second writer on a namespace that has the
// first one's rules, as a client restarted after kill -9 does: it
// converges to its own desired state in one full sync, without adding
// the jumps twice and without ever removing them.
func TestWriterRestart(t *testing.T) {
	for _, b := range backends {
		t.Run(b.mode, func(t *testing.T) {
			requireTools(t, b.tools...)
			ns := newTestNS(t)
			addForeignRules(t, ns)
			services, endpoints := threeServices(false)
			mustSync(t, b.newWriter(ns.run), Compute(services, endpoints, testNode), false)
			before := b.listing(t, ns)

			restarted := b.newWriter(ns.run)
			res := mustSync(t, restarted, Compute(services, endpoints, testNode), false)
			if !res.Full {
				t.Fatalf("first sync after a restart = %+v, want full", res)
			}
			payload := string(restarted.(interface{ LastPayload() []byte }).LastPayload())
			for _, forbidden := range []string{"-I ", "-D ", "-F", "delete table", "flush table", "flush ruleset"} {
				if strings.Contains("\n"+payload, "\n"+forbidden) {
					t.Errorf("the restarted writer's sync contains %q:\n%s", forbidden, payload)
				}
			}
			if after := b.listing(t, ns); after != before {
				t.Errorf("rules after the restart differ:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			// A third run without web removes web's chains left behind:
			// its service and endpoint chains in iptables, its service
			// chain in nftables.
			third := b.newWriter(ns.run)
			rs := Compute(services[1:], endpoints[1:], testNode)
			wantDeleted := 3
			if b.mode == ModeNFTables {
				wantDeleted = 1
			}
			if res := mustSync(t, third, rs, false); res.ChainsDeleted != wantDeleted {
				t.Errorf("restart without web deleted %d chains, want %d (%+v)", res.ChainsDeleted, wantDeleted, res)
			}
			web := portOf(Compute(services, endpoints, testNode), "web")
			if listing := b.listing(t, ns); strings.Contains(listing, web.ID) || strings.Contains(listing, "10.96.0.10") ||
				strings.Contains(listing, b.endpoint(web.Endpoints[0])) {
				t.Errorf("web's rules survived a restart without it:\n%s", listing)
			}
			if b.mode == ModeIPTables {
				save := ns.iptablesSave(t)
				if n := strings.Count(save, "-j MK-SERVICES"); n != 5 {
					t.Errorf("%d jumps to MK-SERVICES, want 5 (nat PREROUTING, OUTPUT; filter INPUT, FORWARD, OUTPUT):\n%s", n, save)
				}
			}
			checkForeignRules(t, ns, "after restarts")

			if err := third.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			save := ns.iptablesSave(t)
			for _, line := range strings.Split(save, "\n") {
				for _, f := range strings.Fields(line) {
					if isProxyChain(strings.TrimPrefix(f, ":")) {
						t.Errorf("cleanup left the proxy's %s:\n%s", f, save)
					}
				}
			}
			checkForeignRules(t, ns, "after cleanup")
			if nft := ns.sh(t, "nft", "list", "ruleset"); strings.Contains(nft, "table ip mk") {
				t.Errorf("cleanup left table ip mk:\n%s", nft)
			}
			checkForeignRules(t, ns, "after cleanup")
		})
	}
}

// TestGoldenFilesLoad loads every golden file into a fresh namespace with
// the real tools: the text the unit tests pin is text the kernel takes.
func TestGoldenFilesLoad(t *testing.T) {
	for _, b := range backends {
		t.Run(b.mode, func(t *testing.T) {
			requireTools(t, b.tools...)
			for _, tc := range computeCases() {
				ns := newTestNS(t)
				w := b.newWriter(ns.run)
				if _, err := w.Sync(context.Background(), Compute(tc.services, tc.endpoints, tc.node), false); err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
			}
		})
	}
}
