package client

import (
	"context"
	"net"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/client/ingress"
	"github.com/mk-orchestrator/mk/structs"
)

// The ingress on the client: one reverse proxy per node, fed by the
// service watch the proxy and the node DNS share (services and
// endpoints) and by a watch of the ingresses of every namespace. Its
// host names resolve in the node DNS to the node's address.

// startIngress starts the ingress proxy and its ingress watch when the
// client has an IngressAddr, and returns the sink that feeds it services
// and endpoints (nil when it does not run). A proxy that cannot listen is
// logged, not fatal: pods and services still run.
func (c *Client) startIngress(ctx context.Context, src *serviceSource) *ingressFeed {
	if c.config.IngressAddr == "" {
		return nil
	}
	addr := c.nodeAddress()
	p := ingress.New(ingress.Config{Logger: c.logger, OnHosts: func(hosts []string) { c.dns.SetHosts(hosts, addr) }})
	if err := p.Start(c.config.IngressAddr); err != nil {
		c.logger.Error("the ingress proxy will not run on this node", "error", err)
		return nil
	}
	c.ingress = p
	c.goFunc(func() {
		p.Watch(ctx, func(ctx context.Context, waitIndex uint64) ([]*structs.Ingress, uint64, error) {
			l, meta, err := c.api.Ingresses(api.AllNamespaces, &api.QueryOptions{WaitIndex: waitIndex, WaitTime: servicesWait, Context: ctx})
			if err != nil {
				return nil, 0, err
			}
			return l, meta.LastIndex, nil
		})
	})
	c.logger.Info("ingress proxy started", "addr", p.Addr(), "hosts_resolve_to", addr)
	return &ingressFeed{p: p, src: src}
}

// nodeAddress is the address the ingress hosts resolve to: the node's
// network address, else its pod gateway (which pods reach too).
func (c *Client) nodeAddress() string {
	if ip := net.ParseIP(c.config.NetworkAddress); ip != nil && ip.To4() != nil {
		return ip.String()
	}
	return c.net.Gateway().String()
}

func (c *Client) stopIngress() {
	if c.ingress == nil {
		return
	}
	if err := c.ingress.Stop(); err != nil {
		c.logger.Warn("stop the ingress proxy", "error", err)
	}
}

// IngressAppliedIndex is the endpoints index of the ingress proxy's route
// table in use (0 when the node runs no ingress proxy): once it reaches
// the index of an endpoints write, this node sends no new request to an
// endpoint that write removed.
func (c *Client) IngressAppliedIndex() uint64 {
	if c.ingress == nil {
		return 0
	}
	return c.ingress.AppliedIndex()
}

// ingressFeed hands the ingress proxy what the service watch reads, the
// endpoints with their index. Both return the endpoints index of the
// route table now in use.
type ingressFeed struct {
	p   *ingress.Proxy
	src *serviceSource
}

func (f *ingressFeed) SetServices(l []*structs.Service) uint64 {
	f.p.SetServices(l)
	return f.p.AppliedIndex()
}

func (f *ingressFeed) SetEndpoints(l []*structs.Endpoints) uint64 {
	f.p.SetEndpoints(l, f.src.index())
	return f.p.AppliedIndex()
}
