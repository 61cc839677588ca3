package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// Ingress host names answer the node's address, over UDP and TCP, in any
// case; an Update of services keeps them, and names beside them are still
// forwarded (here: no upstream, SERVFAIL).
func TestIngressHosts(t *testing.T) {
	s := startServer(t, Config{})
	s.SetHosts([]string{"shop.local", "Shop.Example.", "web.default.svc.mk.local", "api.mk.local"}, "192.0.2.10")
	s.Update(testServices())
	cases := []struct {
		qname  string
		qtype  uint16
		rcode  int
		answer string
	}{
		{"shop.local.", mdns.TypeA, mdns.RcodeSuccess, "192.0.2.10"},
		{"SHOP.local.", mdns.TypeA, mdns.RcodeSuccess, "192.0.2.10"},
		{"shop.example.", mdns.TypeA, mdns.RcodeSuccess, "192.0.2.10"},
		{"api.mk.local.", mdns.TypeA, mdns.RcodeSuccess, "192.0.2.10"},
		// A service's own name keeps its ClusterIP.
		{"web.default.svc.mk.local.", mdns.TypeA, mdns.RcodeSuccess, "10.96.0.10"},
		{"shop.local.", mdns.TypeAAAA, mdns.RcodeSuccess, ""},
		{"www.shop.local.", mdns.TypeA, mdns.RcodeServerFailure, ""},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, c := range cases {
			resp := ask(t, network, s.Addr(), c.qname, c.qtype)
			got := ""
			if len(resp.Answer) == 1 {
				got = resp.Answer[0].(*mdns.A).A.String()
			}
			if resp.Rcode != c.rcode || got != c.answer || len(resp.Answer) > 1 {
				t.Errorf("%s %s %s: %s %v, want %s %q", network, c.qname, mdns.TypeToString[c.qtype],
					mdns.RcodeToString[resp.Rcode], resp.Answer, mdns.RcodeToString[c.rcode], c.answer)
			}
		}
	}
	s.SetHosts(nil, "192.0.2.10")
	if resp := ask(t, "udp", s.Addr(), "shop.local.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("shop.local after its ingress went: %s %v, want it forwarded (SERVFAIL)", mdns.RcodeToString[resp.Rcode], resp.Answer)
	}
	if resp := ask(t, "udp", s.Addr(), "api.mk.local.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("api.mk.local after its ingress went: %s, want NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
}
