package client

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/mk-orchestrator/mk/api"
	nodedns "github.com/mk-orchestrator/mk/client/dns"
	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/structs"
)

// Services on the client: one watch of the cluster's services and
// endpoints (blocking queries) feeds the service proxy, which programs
// the virtual IPs and NodePorts, and the node DNS on the pod gateway.
// Both need the pod network: without it the node runs no proxy or DNS.

// servicesWait is how long one blocking query of the watch waits.
const servicesWait = 5 * time.Minute

// startServices starts the proxy and the node DNS and the watch that
// feeds them; they stop when ctx ends (the DNS server through
// stopServices).
func (c *Client) startServices(ctx context.Context, cluster structs.ClusterNetwork) error {
	writer := proxy.Writer(proxy.NewIPTables(nil, c.logger))
	if c.config.ProxyMode == proxy.ModeNFTables {
		writer = proxy.NewNFTables(nil, c.logger)
	}
	p := proxy.New(proxy.Config{Writer: writer, Node: proxy.NodeInfo{PodCIDRPool: cluster.PodCIDRPool, ServiceCIDR: cluster.ServiceCIDR,
		PodCIDR: c.net.Subnet().String(), LocalhostNodePorts: true}, Logger: c.logger})
	dns, err := nodedns.New(nodedns.Config{Addr: net.JoinHostPort(c.net.Gateway().String(), "53"),
		Upstreams: c.config.DNSUpstreams, Logger: c.logger})
	if err != nil {
		return fmt.Errorf("node DNS: %w", err)
	}
	if err := dns.Start(); err != nil {
		return fmt.Errorf("node DNS on %s: %w", c.net.Gateway(), err)
	}
	c.proxy, c.dns, c.proxyWriter = p, dns, writer
	src := &serviceSource{api: c.api}
	reporter := newSyncReporter(p, src, func(ctx context.Context, index uint64) error {
		return c.api.EndpointsSynced(ctx, c.nodeID, index)
	})
	// The ingress proxy comes before the reporter: it applies endpoints
	// within SetEndpoints, so an index the reporter sends is already in
	// the ingress's route table too (a draining pod has left both).
	var sinks []proxy.Sink
	if feed := c.startIngress(ctx, src); feed != nil {
		sinks = append(sinks, feed)
	}
	sinks = append(sinks, reporter, &dnsFeed{dns: dns})
	c.goFunc(func() { p.Run(ctx) })
	c.goFunc(func() { reporter.run(ctx, c.logger) })
	c.goFunc(func() { proxy.Watch(ctx, src, c.logger, sinks...) })
	c.logger.Info("service proxy and node DNS started", "mode", writer.Mode(), "dns", dns.Addr())
	return nil
}

// stopServices stops the node DNS; the proxy's rules stay, so a restarted
// client takes over without a gap for established connections.
func (c *Client) stopServices() {
	c.stopIngress()
	if c.dns != nil {
		if err := c.dns.Stop(); err != nil {
			c.logger.Warn("stop node DNS", "error", err)
		}
	}
}

// removeServiceRules removes the proxy's rules (a dev agent that exits).
func (c *Client) removeServiceRules() {
	if c.proxyWriter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.proxyWriter.Cleanup(ctx); err != nil {
		c.logger.Warn("remove service proxy rules", "error", err)
	}
}

// serviceSource reads services and endpoints of every namespace by
// blocking query: what proxy.Watch needs of the servers.
type serviceSource struct {
	api *api.Client
	// endpoints is the cluster's endpoints as of since: each call asks
	// only for what was written after it (GET /v1/endpoints/changes), so
	// a change to one service does not resend every service's endpoints.
	mu        sync.Mutex
	endpoints map[structs.NamespacedID]*structs.Endpoints
	since     uint64
}

// NewServiceSource is the proxy.Source a client feeds its proxy and node
// DNS from: blocking queries on /v1/services and /v1/endpoints of every
// namespace through cl (the proxy benchmark uses it too).
func NewServiceSource(cl *api.Client) proxy.Source { return &serviceSource{api: cl} }

func (s *serviceSource) Services(ctx context.Context, waitIndex uint64) ([]*structs.Service, uint64, error) {
	l, meta, err := s.api.Services(api.AllNamespaces, &api.QueryOptions{WaitIndex: waitIndex, WaitTime: servicesWait, Context: ctx, Msgpack: true})
	if err != nil {
		return nil, 0, err
	}
	return l, meta.LastIndex, nil
}

func (s *serviceSource) Endpoints(ctx context.Context, waitIndex uint64) ([]*structs.Endpoints, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if waitIndex == 0 {
		s.since = 0 // the watch starts over (first call, or a restore)
	}
	ch, meta, err := s.api.EndpointsChanges(api.AllNamespaces, s.since, &api.QueryOptions{WaitIndex: waitIndex, WaitTime: servicesWait, Context: ctx, Msgpack: true})
	if err != nil {
		return nil, 0, err
	}
	if meta.LastIndex < s.since {
		// The servers' state went back (a snapshot restore): what is
		// held may be newer than theirs. Start over.
		s.since = 0
		if ch, meta, err = s.api.EndpointsChanges(api.AllNamespaces, 0, &api.QueryOptions{Context: ctx, Msgpack: true}); err != nil {
			return nil, 0, err
		}
	}
	s.apply(ch, s.since == 0)
	s.since = meta.LastIndex
	out := make([]*structs.Endpoints, 0, len(s.endpoints))
	for _, e := range s.endpoints {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].ID < out[j].ID
	})
	return out, meta.LastIndex, nil
}

// index is the endpoints index the source last returned.
func (s *serviceSource) index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since
}

// apply merges changes into the held endpoints (from scratch with reset).
func (s *serviceSource) apply(ch *structs.EndpointsChanges, reset bool) {
	if reset || s.endpoints == nil {
		s.endpoints = map[structs.NamespacedID]*structs.Endpoints{}
	}
	keep := make(map[structs.NamespacedID]bool, len(ch.Keys))
	for _, k := range ch.Keys {
		keep[k] = true
	}
	for k := range s.endpoints {
		if !keep[k] {
			delete(s.endpoints, k)
		}
	}
	for _, e := range ch.Changed {
		s.endpoints[structs.NamespacedID{Namespace: e.Namespace, ID: e.ID}] = e
	}
}

// dnsFeed hands the node DNS both lists whenever either changes: its
// index is rebuilt from the two.
type dnsFeed struct {
	dns       *nodedns.Server
	mu        sync.Mutex
	services  []*structs.Service
	endpoints []*structs.Endpoints
	gen       uint64
}

func (f *dnsFeed) SetServices(l []*structs.Service) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services = l
	return f.update()
}

func (f *dnsFeed) SetEndpoints(l []*structs.Endpoints) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoints = l
	return f.update()
}

func (f *dnsFeed) update() uint64 {
	f.dns.Update(f.services, f.endpoints)
	f.gen++
	return f.gen
}
