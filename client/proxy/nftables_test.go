package proxy

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mk-orchestrator/mk/structs"
)

// TestNFTablesPartialSyncsMatchAFullSync drives one writer through the
// proxy's caches over a series of changes, as a client does, and after
// each compares its table in the kernel with the table a fresh writer
// makes from the same ruleset in one full sync: the partial syncs, which
// write only the elements of the ports that came and went, must leave
// exactly what a full sync would.
func TestNFTablesPartialSyncsMatchAFullSync(t *testing.T) {
	requireTools(t, "nft", "sysctl")
	ns := newTestNS(t)
	w := NewNFTables(ns.run, nil)
	cache := newPortCache()
	index := uint64(0)
	bump := func(objs ...structs.Object) {
		for _, o := range objs {
			index++
			o.Metadata().ModifyIndex = index
		}
	}
	web := svc("web", "10.96.0.10", &structs.ServicePort{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080, NodePort: 30080})
	api := svc("api", "10.96.0.11", tcpPort("http", 80, 8080))
	sticky := svc("sticky", "10.96.0.12", tcpPort("http", 80, 8080))
	sticky.SessionAffinity = structs.SessionAffinityClientIP
	// 10.42.1.1 serves web and api: one hairpin element for both.
	webEps := eps("web", ep("w1", "10.42.1.1", true, nil), ep("w2", "10.42.2.1", true, nil))
	apiEps := eps("api", ep("a1", "10.42.1.1", true, nil))
	stickyEps := eps("sticky", ep("s1", "10.42.3.1", true, nil), ep("s2", "10.42.3.2", true, nil))
	bump(web, api, sticky, webEps, apiEps, stickyEps)
	services := []*structs.Service{web, api, sticky}
	endpoints := []*structs.Endpoints{webEps, apiEps, stickyEps}
	// replace puts e, newly written, in place of the i-th endpoints.
	replace := func(i int, e *structs.Endpoints) *structs.Endpoints {
		bump(e)
		endpoints[i] = e
		return e
	}

	steps := []struct {
		name   string
		change func()
	}{
		{"first sync", func() {}},
		{"api loses the endpoint it shares with web", func() {
			replace(1, eps("api", ep("a2", "10.42.2.7", true, nil)))
		}},
		{"web loses it too", func() {
			webEps = replace(0, eps("web", ep("w2", "10.42.2.1", true, nil)))
		}},
		{"web has no ready endpoint", func() {
			webEps = replace(0, eps("web", ep("w2", "10.42.2.1", false, nil)))
		}},
		{"web is back, on api's address", func() {
			webEps = replace(0, eps("web", ep("w3", "10.42.2.7", true, nil)))
		}},
		{"sticky swaps an endpoint (its affinity sets)", func() {
			stickyEps = replace(2, eps("sticky", ep("s1", "10.42.3.1", true, nil), ep("s3", "10.42.3.3", true, nil)))
		}},
		{"web grows to three endpoints (an endpoint map again)", func() {
			webEps = replace(0, eps("web", ep("w3", "10.42.2.7", true, nil), ep("w4", "10.42.4.1", true, nil), ep("w5", "10.42.4.2", true, nil)))
		}},
		{"api grows to two endpoints (a second slot)", func() {
			replace(1, eps("api", ep("a2", "10.42.2.7", true, nil), ep("a3", "10.42.5.1", true, nil)))
		}},
		{"web drops its middle endpoint (elements move up)", func() {
			webEps = replace(0, eps("web", ep("w3", "10.42.2.7", true, nil), ep("w5", "10.42.4.2", true, nil)))
		}},
		{"api takes web's NodePort (same element, another chain)", func() {
			api.Ports[0].NodePort, web.Ports[0].NodePort = web.Ports[0].NodePort, 0
			bump(api, web)
		}},
		{"api goes", func() {
			services = []*structs.Service{web, sticky}
			endpoints = []*structs.Endpoints{webEps, stickyEps}
		}},
		{"web's port changes", func() {
			web.Ports[0].Port = 8000
			bump(web)
		}},
		{"sticky drops affinity (takes the slot api left)", func() {
			sticky.SessionAffinity = ""
			bump(sticky)
		}},
	}
	for _, step := range steps {
		step.change()
		rs := cache.compute(services, endpoints, testNode)
		res := mustSync(t, w, rs, false)
		got := nftTableState(t, ns)

		// The fresh writer hands out the endpoint map slots the long-lived
		// one holds, so both write the same keys.
		fresh := newTestNS(t)
		fw := NewNFTables(fresh.run, nil)
		fw.slots = w.slots.clone()
		mustSync(t, fw, Compute(services, endpoints, testNode), false)
		if diff := cmp.Diff(nftTableState(t, fresh), got); diff != "" {
			t.Fatalf("%s: the table after partial syncs (%+v) differs from a full sync's (-full +partial):\n%s", step.name, res, diff)
		}
	}
}

// nftTableState is mk's table as `nft -j` lists it, without handles and
// with the elements of each map and set sorted, so two tables built in
// different orders compare equal when they hold the same.
func nftTableState(t *testing.T, ns *testNS) map[string][]string {
	t.Helper()
	var doc struct {
		Nftables []map[string]map[string]any `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(ns.sh(t, "nft", "-j", "list", "table", "ip", "mk")), &doc); err != nil {
		t.Fatal(err)
	}
	state := map[string][]string{}
	for _, obj := range doc.Nftables {
		for kind, v := range obj {
			delete(v, "handle")
			switch kind {
			case "rule":
				state["chain "+fmt.Sprint(v["chain"])] = append(state["chain "+fmt.Sprint(v["chain"])], mustJSON(t, v["expr"]))
			case "chain":
				key := "chain " + fmt.Sprint(v["name"])
				state[key] = append(state[key], "") // an empty chain is there too
			case "set", "map":
				var elems []string
				if list, ok := v["elem"].([]any); ok {
					for _, e := range list {
						elems = append(elems, mustJSON(t, e))
					}
				}
				slices.Sort(elems)
				delete(v, "elem")
				state[kind+" "+fmt.Sprint(v["name"])] = append([]string{mustJSON(t, v)}, elems...)
			}
		}
	}
	return state
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clone is a copy that hands out the same slots.
func (s *endpointSlots) clone() *endpointSlots {
	c := &endpointSlots{byID: make(map[string]int, len(s.byID)), free: append([]int(nil), s.free...), next: s.next}
	for id, slot := range s.byID {
		c.byID[id] = slot
	}
	return c
}
