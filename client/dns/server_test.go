package dns

import (
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	mdns "github.com/miekg/dns"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mk-orchestrator/mk/structs"
)

// testServices are a ClusterIP service with two named ports, a headless
// one with two ready endpoints and one that is not ready, and a service
// in another namespace.
func testServices() ([]*structs.Service, []*structs.Endpoints) {
	svcs := []*structs.Service{
		{ObjectMeta: structs.ObjectMeta{Name: "web", Namespace: "default"}, ClusterIP: "10.96.0.10", Ports: []*structs.ServicePort{
			{Name: "http", Protocol: "tcp", Port: 80, TargetPort: 8080},
			{Name: "metrics", Protocol: "tcp", Port: 9100, TargetPort: 9100},
			{Port: 81, TargetPort: 8081},
		}},
		{ObjectMeta: structs.ObjectMeta{Name: "db", Namespace: "default"}, Ports: []*structs.ServicePort{
			{Name: "pg", Protocol: "tcp", Port: 5432, TargetPort: 5432},
		}},
		{ObjectMeta: structs.ObjectMeta{Name: "cache", Namespace: "prod"}, ClusterIP: "10.96.0.20", Ports: []*structs.ServicePort{
			{Name: "dns", Protocol: "udp", Port: 53, TargetPort: 5353},
		}},
	}
	eps := []*structs.Endpoints{
		{ObjectMeta: structs.ObjectMeta{Name: "web", Namespace: "default"}, Endpoints: []*structs.Endpoint{
			{PodName: "web-1", IP: "10.42.1.2", Ports: map[string]int{"http": 8080}, Ready: true},
		}},
		{ObjectMeta: structs.ObjectMeta{Name: "db", Namespace: "default"}, Endpoints: []*structs.Endpoint{
			{PodName: "db-0", IP: "10.42.1.5", Ports: map[string]int{"pg": 5432}, Ready: true},
			{PodName: "db-1", IP: "10.42.2.6", Ports: map[string]int{"pg": 6432}, Ready: true},
			{PodName: "db-2", IP: "10.42.2.7", Ports: map[string]int{"pg": 5432}, Ready: false},
		}},
	}
	return svcs, eps
}

// startServer starts a server on 127.0.0.1:0 and stops it when the test
// ends.
func startServer(t *testing.T, config Config) *Server {
	t.Helper()
	config.Addr = "127.0.0.1:0"
	if config.Upstreams == nil {
		config.Upstreams = []string{}
	}
	config.Logger = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn})
	s, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// ask asks addr over network ("udp" or "tcp") and fails the test when
// no answer comes.
func ask(t *testing.T, network, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg).SetQuestion(name, qtype)
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return resp
}

// rrStrings renders records without their TTLs' variability removed: the
// TTL is part of what is checked.
func rrStrings(rrs []mdns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	sort.Strings(out)
	return out
}

func TestClusterAnswers(t *testing.T) {
	s := startServer(t, Config{})
	s.Update(testServices())
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		soa    bool
	}{
		{name: "service A", qname: "web.default.svc.mk.local.", qtype: mdns.TypeA,
			answer: []string{"web.default.svc.mk.local. 5 IN A 10.96.0.10"}},
		{name: "named port SRV", qname: "_http._tcp.web.default.svc.mk.local.", qtype: mdns.TypeSRV,
			answer: []string{"_http._tcp.web.default.svc.mk.local. 5 IN SRV 0 100 80 web.default.svc.mk.local."},
			extra:  []string{"web.default.svc.mk.local. 5 IN A 10.96.0.10"}},
		{name: "udp port SRV", qname: "_dns._udp.cache.prod.svc.mk.local.", qtype: mdns.TypeSRV,
			answer: []string{"_dns._udp.cache.prod.svc.mk.local. 5 IN SRV 0 100 53 cache.prod.svc.mk.local."},
			extra:  []string{"cache.prod.svc.mk.local. 5 IN A 10.96.0.20"}},
		{name: "SRV of a port under the wrong protocol", qname: "_dns._tcp.cache.prod.svc.mk.local.", qtype: mdns.TypeSRV,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "headless A: ready endpoints only", qname: "db.default.svc.mk.local.", qtype: mdns.TypeA,
			answer: []string{"db.default.svc.mk.local. 5 IN A 10.42.1.5", "db.default.svc.mk.local. 5 IN A 10.42.2.6"}},
		{name: "headless SRV: pods and their ports", qname: "_pg._tcp.db.default.svc.mk.local.", qtype: mdns.TypeSRV,
			answer: []string{
				"_pg._tcp.db.default.svc.mk.local. 5 IN SRV 0 100 5432 10-42-1-5.default.pod.mk.local.",
				"_pg._tcp.db.default.svc.mk.local. 5 IN SRV 0 100 6432 10-42-2-6.default.pod.mk.local.",
			},
			extra: []string{"10-42-1-5.default.pod.mk.local. 5 IN A 10.42.1.5", "10-42-2-6.default.pod.mk.local. 5 IN A 10.42.2.6"}},
		{name: "pod A", qname: "10-42-1-7.default.pod.mk.local.", qtype: mdns.TypeA,
			answer: []string{"10-42-1-7.default.pod.mk.local. 5 IN A 10.42.1.7"}},
		{name: "malformed pod name", qname: "10-42-1.default.pod.mk.local.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "pod octet out of range", qname: "10-42-1-300.default.pod.mk.local.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "unknown service", qname: "nope.default.svc.mk.local.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "service in another namespace", qname: "web.prod.svc.mk.local.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "unknown name at the apex's level", qname: "nope.mk.local.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: true},
		{name: "AAAA of a service is NODATA", qname: "web.default.svc.mk.local.", qtype: mdns.TypeAAAA, soa: true},
		{name: "SRV of the service name is NODATA", qname: "web.default.svc.mk.local.", qtype: mdns.TypeSRV, soa: true},
		{name: "namespace is an empty non-terminal", qname: "default.svc.mk.local.", qtype: mdns.TypeA, soa: true},
		{name: "AAAA of a pod is NODATA", qname: "10-42-1-7.default.pod.mk.local.", qtype: mdns.TypeAAAA, soa: true},
		{name: "SOA at the apex", qname: "mk.local.", qtype: mdns.TypeSOA,
			answer: []string{"mk.local. 5 IN SOA ns.dns.mk.local. hostmaster.mk.local. 1 7200 1800 86400 5"}},
		{name: "case is kept as asked", qname: "WEB.Default.SVC.mk.LOCAL.", qtype: mdns.TypeA,
			answer: []string{"WEB.Default.SVC.mk.LOCAL. 5 IN A 10.96.0.10"}},
		{name: "upper-case SRV", qname: "_HTTP._TCP.web.DEFAULT.svc.mk.local.", qtype: mdns.TypeSRV,
			answer: []string{"_HTTP._TCP.web.DEFAULT.svc.mk.local. 5 IN SRV 0 100 80 web.default.svc.mk.local."},
			extra:  []string{"web.default.svc.mk.local. 5 IN A 10.96.0.10"}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				resp := ask(t, network, s.Addr(), tc.qname, tc.qtype)
				if resp.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
				}
				if !resp.Authoritative {
					t.Error("answer not authoritative")
				}
				if got, want := strings.Join(rrStrings(resp.Answer), "\n"), strings.Join(tc.answer, "\n"); got != want {
					t.Errorf("answer:\n%s\nwant:\n%s", got, want)
				}
				// Names in the additional section may take the query's
				// spelling (compressed against the question): compare
				// them without case.
				if got, want := strings.Join(rrStrings(resp.Extra), "\n"), strings.Join(tc.extra, "\n"); !strings.EqualFold(got, want) {
					t.Errorf("additional:\n%s\nwant:\n%s", got, want)
				}
				if gotSOA := len(resp.Ns) == 1 && resp.Ns[0].Header().Rrtype == mdns.TypeSOA; gotSOA != tc.soa {
					t.Errorf("authority %v, want an SOA: %v", resp.Ns, tc.soa)
				}
			})
		}
	}
}

func TestUpdateIsSeenByTheNextQuery(t *testing.T) {
	s := startServer(t, Config{TTL: 30 * time.Second})
	name := "api.default.svc.mk.local."
	if resp := ask(t, "udp", s.Addr(), name, mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Fatalf("before any update: %s, want NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
	api := &structs.Service{ObjectMeta: structs.ObjectMeta{Name: "api", Namespace: "default"}, ClusterIP: "10.96.3.4"}
	s.Update([]*structs.Service{api}, nil)
	resp := ask(t, "udp", s.Addr(), name, mdns.TypeA)
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.A).A.String() != "10.96.3.4" {
		t.Fatalf("after adding: %v", resp)
	}
	if ttl := resp.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("TTL %d, want the configured 30", ttl)
	}
	moved := *api
	moved.ClusterIP = "10.96.3.5"
	s.Update([]*structs.Service{&moved}, nil)
	if resp := ask(t, "udp", s.Addr(), name, mdns.TypeA); len(resp.Answer) != 1 || resp.Answer[0].(*mdns.A).A.String() != "10.96.3.5" {
		t.Fatalf("after changing the ClusterIP: %v", resp)
	}
	s.Update(nil, nil)
	if resp := ask(t, "udp", s.Addr(), name, mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Fatalf("after removing: %s, want NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
}

// TestQueriesDuringUpdates runs queries while another goroutine keeps
// swapping the index (the race detector checks the sharing); the service
// is in every index, so every answer must have it.
func TestQueriesDuringUpdates(t *testing.T) {
	s := startServer(t, Config{})
	svcs, eps := testServices()
	s.Update(svcs, eps)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				s.Update(svcs, eps)
			} else {
				s.Update(svcs[:1], nil)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 200; i++ {
		resp := ask(t, "udp", s.Addr(), "web.DEFAULT.svc.mk.local.", mdns.TypeA)
		if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 1 {
			t.Fatalf("query %d: %v", i, resp)
		}
	}
}

func TestEDNSAnswerAndTruncation(t *testing.T) {
	s := startServer(t, Config{})
	var eps []*structs.Endpoint
	for i := 1; i <= 60; i++ {
		eps = append(eps, &structs.Endpoint{IP: net.IPv4(10, 42, 3, byte(i)).String(), Ready: true})
	}
	s.Update([]*structs.Service{{ObjectMeta: structs.ObjectMeta{Name: "big", Namespace: "default"}}},
		[]*structs.Endpoints{{ObjectMeta: structs.ObjectMeta{Name: "big", Namespace: "default"}, Endpoints: eps}})
	name := "big.default.svc.mk.local."
	// 60 A records do not fit 512 bytes: a plain UDP client gets TC and
	// retries over TCP, which carries all of them.
	if resp := ask(t, "udp", s.Addr(), name, mdns.TypeA); !resp.Truncated {
		t.Errorf("udp without EDNS: not truncated, %d answers", len(resp.Answer))
	}
	if resp := ask(t, "tcp", s.Addr(), name, mdns.TypeA); resp.Truncated || len(resp.Answer) != 60 {
		t.Errorf("tcp: truncated %v, %d answers, want 60", resp.Truncated, len(resp.Answer))
	}
	m := new(mdns.Msg).SetQuestion(name, mdns.TypeA)
	m.SetEdns0(4096, false)
	resp, _, err := (&mdns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(m, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Truncated || len(resp.Answer) != 60 || resp.IsEdns0() == nil {
		t.Errorf("udp with EDNS 4096: truncated %v, %d answers, OPT %v", resp.Truncated, len(resp.Answer), resp.IsEdns0())
	}
}

func TestQueryMetrics(t *testing.T) {
	s := startServer(t, Config{})
	nx := queries.WithLabelValues(sourceCluster, "NXDOMAIN")
	before := promtest.ToFloat64(nx)
	ask(t, "udp", s.Addr(), "nope.default.svc.mk.local.", mdns.TypeA)
	if got := promtest.ToFloat64(nx) - before; got != 1 {
		t.Errorf("NXDOMAIN counter grew by %v, want 1", got)
	}
}

func TestStartStop(t *testing.T) {
	s := startServer(t, Config{})
	if err := s.Start(); err == nil {
		t.Error("second Start did not fail")
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr %q: %v", s.Addr(), err)
	}
	// UDP and TCP share the port.
	ask(t, "tcp", s.Addr(), "web.default.svc.mk.local.", mdns.TypeA)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	c := &mdns.Client{Net: "tcp", Timeout: time.Second}
	if _, _, err := c.Exchange(new(mdns.Msg).SetQuestion("web.default.svc.mk.local.", mdns.TypeA), s.Addr()); err == nil {
		t.Error("a stopped server still answers over tcp")
	}
}

func TestResolvConf(t *testing.T) {
	got := string(ResolvConf("10.42.1.1", "prod"))
	want := "nameserver 10.42.1.1\nsearch prod.svc.mk.local svc.mk.local mk.local\noptions ndots:5\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseDashedIPv4(t *testing.T) {
	cases := map[string]string{
		"10-42-1-7": "10.42.1.7", "0-0-0-0": "0.0.0.0", "255-255-255-255": "255.255.255.255",
		"10-42-1": "", "10-42-1-7-8": "", "10-42-1-256": "", "10-42--7": "", "10-042-1-7": "", "a-b-c-d": "", "": "",
	}
	for in, want := range cases {
		ip, ok := parseDashedIPv4(in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestMalformedQueryIsFormErr: a datagram with a DNS header but nothing
// parsable after it gets FORMERR with the query's ID, not silence.
func TestMalformedQueryIsFormErr(t *testing.T) {
	s := startServer(t, Config{})
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// ID 0x1234, RD, one question whose name runs past the packet.
	if _, err := conn.Write([]byte{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 'x'}); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("answer does not unpack: %v", err)
	}
	if m.Id != 0x1234 || !m.Response || m.Rcode != mdns.RcodeFormatError || !m.RecursionDesired {
		t.Errorf("answer %v, want FORMERR for ID 0x1234", m)
	}
}
