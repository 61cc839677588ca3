package dns

import (
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// fastPath answers pkt the way the UDP server's fast path does; nil when
// it leaves the query to the general path.
func fastPath(t *testing.T, idx *index, pkt []byte) *mdns.Msg {
	t.Helper()
	var key [maxName]byte
	q, ok := parseQuery(pkt, &key)
	if !ok {
		return nil
	}
	wa := idx.wireFor(q.key, q.qtype)
	if wa == nil {
		return nil
	}
	b, fits := appendAnswer(nil, pkt, q, wa)
	if !fits {
		return nil
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("fast path answer does not unpack: %v", err)
	}
	return m
}

// TestFastPathMatchesGeneralPath: for every query the fast path answers,
// its answer is the general path's, down to the header bits (names
// compared without case: compression may give them the query's
// spelling).
func TestFastPathMatchesGeneralPath(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	s.Update(testServices())
	idx := s.idx.Load()
	cases := []struct {
		name  string
		qtype uint16
		edns  bool
		fast  bool
	}{
		{"web.default.svc.mk.local.", mdns.TypeA, false, true},
		{"Web.Default.Svc.MK.local.", mdns.TypeA, true, true},
		{"_http._tcp.web.default.svc.mk.local.", mdns.TypeSRV, false, true},
		{"_pg._tcp.db.default.svc.mk.local.", mdns.TypeSRV, true, true},
		{"db.default.svc.mk.local.", mdns.TypeA, false, true},
		{"web.default.svc.mk.local.", mdns.TypeAAAA, false, true},
		{"web.default.svc.mk.local.", mdns.TypeTXT, true, true},
		{"default.svc.mk.local.", mdns.TypeA, false, true},
		{"nope.default.svc.mk.local.", mdns.TypeA, false, true},
		{"nope.mk.local.", mdns.TypeSRV, true, true},
		{"mk.local.", mdns.TypeA, false, true},
		// Left to the general path: computed names, the apex's SOA,
		// names outside the zone, characters that need escaping.
		{"10-42-1-7.default.pod.mk.local.", mdns.TypeA, false, false},
		{"nope.default.pod.mk.local.", mdns.TypeA, false, false},
		{"mk.local.", mdns.TypeSOA, false, false},
		{"example.org.", mdns.TypeA, false, false},
		{"notmk.local.", mdns.TypeA, false, false},
		{"we\\.b.default.svc.mk.local.", mdns.TypeA, false, false},
	}
	for _, tc := range cases {
		req := new(mdns.Msg).SetQuestion(tc.name, tc.qtype)
		req.Id = 0xbeef
		req.CheckingDisabled = true
		if tc.edns {
			req.SetEdns0(4096, false)
		}
		pkt, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		fast := fastPath(t, idx, pkt)
		if (fast != nil) != tc.fast {
			t.Errorf("%s %s: fast path taken %v, want %v", tc.name, mdns.TypeToString[tc.qtype], fast != nil, tc.fast)
			continue
		}
		if fast == nil {
			continue
		}
		general, local := s.local(req)
		if !local {
			t.Fatalf("%s: not local", tc.name)
		}
		s.finish(req, general, true, true)
		if got, want := strings.ToLower(fast.String()), strings.ToLower(general.String()); got != want {
			t.Errorf("%s %s: fast path answer\n%s\ngeneral path answer\n%s", tc.name, mdns.TypeToString[tc.qtype], got, want)
		}
		if fast.Question[0].Name != tc.name {
			t.Errorf("question %q, want the query's spelling %q", fast.Question[0].Name, tc.name)
		}
	}
}

func TestParseQueryRefuses(t *testing.T) {
	plain := func() *mdns.Msg { return new(mdns.Msg).SetQuestion("web.default.svc.mk.local.", mdns.TypeA) }
	pack := func(m *mdns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"a response": pack(func() *mdns.Msg { m := plain(); m.Response = true; return m }()),
		"an update":  pack(func() *mdns.Msg { m := plain(); m.Opcode = mdns.OpcodeUpdate; return m }()),
		"two questions": pack(func() *mdns.Msg {
			m := plain()
			m.Question = append(m.Question, m.Question[0])
			return m
		}()),
		"class CH":         pack(func() *mdns.Msg { m := plain(); m.Question[0].Qclass = mdns.ClassCHAOS; return m }()),
		"EDNS version 1":   pack(func() *mdns.Msg { m := plain(); m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1); return m }()),
		"trailing garbage": append(pack(plain()), 0, 0),
		"short":            pack(plain())[:20],
		"an answer record": pack(func() *mdns.Msg {
			m := plain()
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "x.", Rrtype: mdns.TypeA, Class: mdns.ClassINET}}}
			return m
		}()),
		"compressed question name": {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1},
		"root name":                pack(new(mdns.Msg).SetQuestion(".", mdns.TypeNS)),
	}
	for name, pkt := range cases {
		var key [maxName]byte
		if _, ok := parseQuery(pkt, &key); ok {
			t.Errorf("%s: taken by the fast path", name)
		}
	}
	var key [maxName]byte
	q, ok := parseQuery(pack(plain()), &key)
	if !ok || string(q.key) != "web.default.svc.mk.local." || q.qtype != mdns.TypeA || q.size != 512 {
		t.Errorf("plain query: %+v %v", q, ok)
	}
}
