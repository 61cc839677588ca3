// Package dns is the node DNS every client runs on its pod gateway (DESIGN
// §9): it answers the names of services and pods inside the cluster domain
// from an in-memory index the client feeds from its services and endpoints
// watch, and forwards every other name to the node's own resolvers.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	mdns "github.com/miekg/dns"

	"github.com/mk-orchestrator/mk/structs"
)

// Defaults of Config.
const (
	DefaultTTL            = 5 * time.Second
	DefaultForwardTimeout = 2 * time.Second
	DefaultResolvConf     = "/etc/resolv.conf"
	// DefaultMaxForwards bounds the queries being forwarded at once; past
	// it a query is answered SERVFAIL at once rather than piling up
	// goroutines while the upstreams are slow.
	DefaultMaxForwards = 1024
	// ednsSize is the UDP payload size the server advertises to EDNS
	// clients: the size that avoids IP fragmentation on common paths.
	ednsSize = 1232
)

// Config configures a node DNS server.
type Config struct {
	// Addr is the host:port to listen on, UDP and TCP: the pod gateway's
	// address and port 53 in production. With port 0 both listen on one
	// free port (see Server.Addr).
	Addr string
	// Domain is the cluster domain; structs.ClusterDomain when empty.
	Domain string
	// TTL of the answers inside the cluster domain (and of the SOA's
	// negative caching); DefaultTTL when zero.
	TTL time.Duration
	// Upstreams are the resolvers (host:port) other names are forwarded
	// to. When nil, they are read from ResolvConf on port 53.
	Upstreams []string
	// ResolvConf is the file Upstreams are read from when nil;
	// DefaultResolvConf when empty.
	ResolvConf string
	// ForwardTimeout bounds a forwarded query end to end; past it the
	// client gets SERVFAIL. DefaultForwardTimeout when zero.
	ForwardTimeout time.Duration
	// MaxForwards bounds the forwarded queries in flight;
	// DefaultMaxForwards when zero.
	MaxForwards int
	Logger      hclog.Logger
}

// Server is a node DNS server. Update may be called at any time from any
// goroutine, before or after Start; queries are answered concurrently and
// never wait for an Update.
type Server struct {
	config  Config
	logger  hclog.Logger
	fwd     *forwarder
	fwdSlot chan struct{}
	ttl     uint32

	idx    atomic.Pointer[index]
	serial atomic.Uint32

	// updMu orders the writers of idx, and guards what the next index is
	// built from.
	updMu     sync.Mutex
	services  []*structs.Service
	endpoints []*structs.Endpoints
	hosts     map[string]string

	mu   sync.Mutex
	udp  *udpServer
	tcp  *mdns.Server
	addr string
}

// New builds a server that answers nothing inside the cluster domain until
// the first Update. It reads the upstream resolvers now when
// Config.Upstreams is nil; a resolv.conf with no nameserver is not an
// error (forwarded queries then get SERVFAIL) but is logged.
func New(config Config) (*Server, error) {
	if config.Domain == "" {
		config.Domain = structs.ClusterDomain
	}
	if config.TTL <= 0 {
		config.TTL = DefaultTTL
	}
	if config.ForwardTimeout <= 0 {
		config.ForwardTimeout = DefaultForwardTimeout
	}
	if config.MaxForwards <= 0 {
		config.MaxForwards = DefaultMaxForwards
	}
	if config.ResolvConf == "" {
		config.ResolvConf = DefaultResolvConf
	}
	if config.Logger == nil {
		config.Logger = hclog.NewNullLogger()
	}
	s := &Server{
		config:  config,
		logger:  config.Logger.Named("dns"),
		fwdSlot: make(chan struct{}, config.MaxForwards),
		ttl:     uint32(config.TTL / time.Second),
	}
	ups := config.Upstreams
	if ups == nil {
		var err error
		if ups, err = UpstreamsFromResolvConf(config.ResolvConf, config.Addr); err != nil {
			return nil, fmt.Errorf("node dns: %w", err)
		}
		if len(ups) == 0 {
			s.logger.Warn("no nameserver to forward to: names outside the cluster domain will get SERVFAIL", "resolv_conf", config.ResolvConf)
		}
	}
	s.fwd = newForwarder(ups, config.ForwardTimeout)
	s.idx.Store(newIndex(config.Domain, s.ttl, 0, nil, nil, nil))
	return s, nil
}

// Update replaces the services and endpoints the server answers with: the
// next query sees them. Endpoints belong to the service of the same
// namespace and name; only ready ones are used. Update keeps its
// arguments (until the next Update) but never changes them.
func (s *Server) Update(services []*structs.Service, endpoints []*structs.Endpoints) {
	s.updMu.Lock()
	defer s.updMu.Unlock()
	s.services, s.endpoints = services, endpoints
	s.rebuild()
}

// SetHosts replaces the host names that are not services but answer
// with an address of their own: the ingress hosts, which resolve to the
// node's address (ip, IPv4). Names are matched case-insensitively, a
// trailing dot or not.
func (s *Server) SetHosts(names []string, ip string) {
	hosts := make(map[string]string, len(names))
	for _, n := range names {
		if n != "" {
			hosts[mdns.CanonicalName(n)] = ip
		}
	}
	s.updMu.Lock()
	defer s.updMu.Unlock()
	s.hosts = hosts
	s.rebuild()
}

// rebuild builds and swaps in the index; s.updMu is held.
func (s *Server) rebuild() {
	idx := newIndex(s.config.Domain, s.ttl, s.serial.Add(1), s.services, s.endpoints, s.hosts)
	s.idx.Store(idx)
	s.logger.Trace("index updated", "services", len(s.services), "hosts", len(s.hosts), "names", len(idx.names))
}

// Start listens on Config.Addr over UDP and TCP and serves until Stop. It
// returns once both listeners accept queries.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil {
		return errors.New("node dns: already started")
	}
	pc, l, err := listen(s.config.Addr)
	if err != nil {
		return fmt.Errorf("node dns: %w", err)
	}
	started, failed := make(chan struct{}), make(chan error, 1)
	s.tcp = &mdns.Server{Listener: l, Handler: s, NotifyStartedFunc: func() { close(started) }}
	go func() {
		if err := s.tcp.ActivateAndServe(); err != nil {
			failed <- err
		}
	}()
	select {
	case <-started:
	case err := <-failed:
		pc.Close()
		l.Close()
		s.tcp = nil
		return fmt.Errorf("node dns: serve tcp: %w", err)
	}
	s.udp = newUDPServer(s, pc.(*net.UDPConn))
	go s.udp.serve()
	s.addr = pc.LocalAddr().String()
	s.logger.Info("listening", "addr", s.addr, "upstreams", s.fwd.upstreams)
	return nil
}

// Addr is the host:port the server listens on (UDP and TCP), once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listeners and waits for the queries in flight, up to 5 s
// (a forwarded query takes at most Config.ForwardTimeout).
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := errors.Join(s.udp.stop(ctx), s.tcp.ShutdownContext(ctx))
	s.udp, s.tcp = nil, nil
	if err != nil {
		return fmt.Errorf("node dns: stop: %w", err)
	}
	s.logger.Info("stopped", "addr", s.addr)
	return nil
}

// ServeDNS answers one query that came over TCP (UDP queries go through
// the udpServer, which uses the same functions).
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	m, local := s.local(req)
	if !local {
		m = s.forwardWithin(req)
	}
	s.finish(req, m, udp, local)
	if err := w.WriteMsg(m); err != nil {
		s.logger.Trace("write answer", "remote", w.RemoteAddr(), "error", err)
	}
}

// local answers req when it is not to be forwarded: false for a query of
// a name outside the cluster domain.
func (s *Server) local(req *mdns.Msg) (*mdns.Msg, bool) {
	if req.Opcode != mdns.OpcodeQuery || len(req.Question) != 1 {
		m := new(mdns.Msg).SetRcode(req, mdns.RcodeNotImplemented)
		m.RecursionAvailable = true
		return m, true
	}
	name := strings.ToLower(req.Question[0].Name)
	idx := s.idx.Load()
	if _, host := idx.names[name]; !host && !idx.inZone(name) {
		return nil, false
	}
	return s.answer(idx, req, name), true
}

// answer builds the reply to a query for name, in the zone.
func (s *Server) answer(idx *index, req *mdns.Msg, name string) *mdns.Msg {
	q := req.Question[0]
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		m.Rcode = mdns.RcodeRefused
		return m
	}
	res := idx.lookup(name, q.Qtype)
	m.Rcode = res.rcode
	m.Answer = spelled(res.answer, name, q.Name)
	m.Extra = res.extra
	if res.negative {
		m.Ns = []mdns.RR{idx.soa}
	}
	return m
}

// spelled returns rrs with the owner name key written as the query wrote
// it (asked), copying only when the spelling differs: the index is shared
// and never changed.
func spelled(rrs []mdns.RR, key, asked string) []mdns.RR {
	if key == asked || len(rrs) == 0 {
		return rrs
	}
	out := make([]mdns.RR, len(rrs))
	for i, rr := range rrs {
		if rr.Header().Name == key {
			rr = mdns.Copy(rr)
			rr.Header().Name = asked
		}
		out[i] = rr
	}
	return out
}

// forwardWithin takes a forwarding slot and forwards req; SERVFAIL when
// every slot is taken.
func (s *Server) forwardWithin(req *mdns.Msg) *mdns.Msg {
	select {
	case s.fwdSlot <- struct{}{}:
		defer func() { <-s.fwdSlot }()
		return s.forward(req)
	default:
		return s.tooManyForwards(req)
	}
}

// tooManyForwards is the SERVFAIL of a query that found no forwarding slot.
func (s *Server) tooManyForwards(req *mdns.Msg) *mdns.Msg {
	s.logger.Debug("too many forwarded queries in flight", "name", req.Question[0].Name)
	m := new(mdns.Msg).SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// forward answers a query outside the cluster domain through the
// upstreams, SERVFAIL when none answers within the budget. The caller
// holds a forwarding slot.
func (s *Server) forward(req *mdns.Msg) *mdns.Msg {
	start := time.Now()
	resp, err := s.fwd.exchange(context.Background(), req)
	forwardDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.logger.Debug("forward failed", "name", req.Question[0].Name, "error", err)
		resp = new(mdns.Msg).SetRcode(req, mdns.RcodeServerFailure)
		resp.RecursionAvailable = true
	}
	return resp
}

// finish makes m fit the client of req (an OPT record when it asked with
// one, truncated to what it takes over UDP) and counts it.
func (s *Server) finish(req, m *mdns.Msg, udp, local bool) {
	if opt := req.IsEdns0(); opt != nil && m.IsEdns0() == nil {
		m.SetEdns0(ednsSize, false)
	}
	if udp {
		m.Truncate(udpSize(req))
	}
	if local {
		countQuery(clusterCounters, sourceCluster, m.Rcode)
	} else {
		countQuery(forwardCounters, sourceForward, m.Rcode)
	}
}

// udpSize is the largest UDP answer the client of req takes.
func udpSize(req *mdns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return max(int(opt.UDPSize()), mdns.MinMsgSize)
	}
	return mdns.MinMsgSize
}
