package dns

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mk-orchestrator/mk/testutil/poll"
)

// upstream is a resolver the tests forward to, on 127.0.0.1 (UDP and TCP,
// one port). It answers example.org with 192.0.2.1; big.example.org over
// UDP with an empty truncated answer and over TCP with 40 records.
type upstream struct {
	addr    string
	tcpSeen atomic.Int32
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	pc, l, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: pc.LocalAddr().String()}
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: u}, {Listener: l, Handler: u}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return u
}

func (u *upstream) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	m := new(mdns.Msg).SetReply(req)
	m.RecursionAvailable = true
	q := req.Question[0]
	tcp := w.LocalAddr().Network() == "tcp"
	if tcp {
		u.tcpSeen.Add(1)
	}
	switch {
	case q.Name == "example.org." && q.Qtype == mdns.TypeA:
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, 1)}}
	case q.Name == "big.example.org." && !tcp:
		m.Truncated = true
	case q.Name == "big.example.org.":
		for i := 1; i <= 40; i++ {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300}, A: net.IPv4(192, 0, 2, byte(i))})
		}
	default:
		m.Rcode = mdns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// blackhole is an upstream that reads queries and never answers.
func blackhole(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var got atomic.Int32
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	return pc.LocalAddr().String(), &got
}

// closedPort is an address nothing listens on: a query there is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestForward(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, Config{Upstreams: []string{up.addr}})
	for _, network := range []string{"udp", "tcp"} {
		resp := ask(t, network, s.Addr(), "example.org.", mdns.TypeA)
		if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*mdns.A).A.String() != "192.0.2.1" {
			t.Fatalf("%s: example.org: %v", network, resp)
		}
		if resp.Answer[0].Header().Ttl != 300 {
			t.Errorf("%s: TTL %d, want the upstream's 300", network, resp.Answer[0].Header().Ttl)
		}
		if resp := ask(t, network, s.Addr(), "nope.example.org.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
			t.Errorf("%s: the upstream's NXDOMAIN came back as %s", network, mdns.RcodeToString[resp.Rcode])
		}
	}
}

func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, Config{Upstreams: []string{up.addr}})
	m := new(mdns.Msg).SetQuestion("big.example.org.", mdns.TypeA)
	m.SetEdns0(4096, false)
	resp, _, err := (&mdns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(m, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Truncated || len(resp.Answer) != 40 {
		t.Fatalf("truncated %v with %d answers, want the 40 of the TCP answer", resp.Truncated, len(resp.Answer))
	}
	if up.tcpSeen.Load() != 1 {
		t.Errorf("upstream saw %d TCP queries, want 1", up.tcpSeen.Load())
	}
	// A client without EDNS gets what fits in 512 bytes, marked truncated,
	// and its TCP retry gets all of it.
	if resp := ask(t, "udp", s.Addr(), "big.example.org.", mdns.TypeA); !resp.Truncated {
		t.Errorf("plain udp client: %d answers, not truncated", len(resp.Answer))
	}
	if resp := ask(t, "tcp", s.Addr(), "big.example.org.", mdns.TypeA); len(resp.Answer) != 40 {
		t.Errorf("tcp client: %d answers, want 40", len(resp.Answer))
	}
}

// TestForwardFailureIsServfailInTime: whatever way the upstreams fail,
// the client gets SERVFAIL within the forward budget (plus scheduling
// slack), long before a stub resolver's own 5 s timeout.
func TestForwardFailureIsServfailInTime(t *testing.T) {
	const budget = 600 * time.Millisecond
	silent, _ := blackhole(t)
	up := startUpstream(t)
	cases := []struct {
		name      string
		upstreams []string
		rcode     int
		atLeast   time.Duration
	}{
		{name: "upstream times out", upstreams: []string{silent}, rcode: mdns.RcodeServerFailure, atLeast: budget},
		{name: "upstream refuses", upstreams: []string{closedPort(t)}, rcode: mdns.RcodeServerFailure},
		{name: "all of several time out", upstreams: []string{silent, silent, silent}, rcode: mdns.RcodeServerFailure, atLeast: budget},
		{name: "no upstream", upstreams: []string{}, rcode: mdns.RcodeServerFailure},
		{name: "a dead one, then a live one", upstreams: []string{silent, up.addr}, rcode: mdns.RcodeSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{Upstreams: tc.upstreams, ForwardTimeout: budget})
			start := time.Now()
			resp := ask(t, "udp", s.Addr(), "example.org.", mdns.TypeA)
			elapsed := time.Since(start)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if elapsed > budget+400*time.Millisecond {
				t.Errorf("answered after %s, budget %s", elapsed, budget)
			}
			if elapsed < tc.atLeast-50*time.Millisecond {
				t.Errorf("answered after %s: did it wait for the upstream at all?", elapsed)
			}
		})
	}
}

// TestForwardsInFlightAreBounded: past MaxForwards a query is SERVFAIL at
// once instead of waiting behind the others.
func TestForwardsInFlightAreBounded(t *testing.T) {
	silent, received := blackhole(t)
	s := startServer(t, Config{Upstreams: []string{silent}, ForwardTimeout: 3 * time.Second, MaxForwards: 1})
	first := make(chan *mdns.Msg, 1)
	go func() {
		c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
		resp, _, _ := c.Exchange(new(mdns.Msg).SetQuestion("slow.example.org.", mdns.TypeA), s.Addr())
		first <- resp
	}()
	poll.WaitFor(t, 5*time.Second, func() (bool, error) { return received.Load() == 1, nil })
	start := time.Now()
	resp := ask(t, "udp", s.Addr(), "other.example.org.", mdns.TypeA)
	if resp.Rcode != mdns.RcodeServerFailure || time.Since(start) > time.Second {
		t.Errorf("second query: %s after %s, want SERVFAIL at once", mdns.RcodeToString[resp.Rcode], time.Since(start))
	}
	if r := <-first; r == nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("first query: %v, want SERVFAIL after the budget", r)
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	text := "# generated\nnameserver 192.0.2.53\nnameserver 10.42.1.1\nnameserver 2001:db8::53\nsearch example.org\noptions ndots:2\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := UpstreamsFromResolvConf(path, "10.42.1.1:53")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (its own address left out)", got, want)
	}
	// New reads the file when no upstream is given.
	s, err := New(Config{Addr: "10.42.1.1:53", ResolvConf: path})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(s.fwd.upstreams, want) {
		t.Errorf("server forwards to %v, want %v", s.fwd.upstreams, want)
	}
	if _, err := New(Config{Addr: "10.42.1.1:53", ResolvConf: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing resolv.conf is not an error")
	}
}
