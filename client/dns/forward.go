package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"
)

// errNoUpstream is returned when no resolver is configured.
var errNoUpstream = errors.New("no upstream resolver")

// forwarder sends the queries for names outside the cluster domain to the
// node's own resolvers. It caches nothing: the node's resolvers (a local
// caching stub such as systemd-resolved, or the site's) already cache with
// the right TTLs, forwarded names are not the hot path of service
// discovery, and a cache of our own would be one more place where an
// answer can be stale and one more memory bound to get right.
type forwarder struct {
	// upstreams are host:port pairs, tried in order.
	upstreams []string
	// budget bounds one forwarded query end to end, every upstream and the
	// TCP retry included; past it the client gets SERVFAIL.
	budget time.Duration
	udp    *mdns.Client
	tcp    *mdns.Client
}

func newForwarder(upstreams []string, budget time.Duration) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		budget:    budget,
		udp:       &mdns.Client{Net: "udp", UDPSize: mdns.DefaultMsgSize},
		tcp:       &mdns.Client{Net: "tcp"},
	}
}

// exchange forwards req and returns the first answer an upstream gives.
// Each upstream gets an equal share of the budget (at least 250 ms, never
// past the overall deadline), so one that is down cannot use up the time
// of the next. A truncated UDP answer is asked again over TCP from the
// same upstream.
func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg) (*mdns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, errNoUpstream
	}
	ctx, cancel := context.WithTimeout(ctx, f.budget)
	defer cancel()
	share := max(f.budget/time.Duration(len(f.upstreams)), 250*time.Millisecond)
	var errs []error
	for _, up := range f.upstreams {
		if ctx.Err() != nil {
			break
		}
		resp, err := f.try(ctx, share, up, req)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("upstream %s: %w", up, err))
	}
	if len(errs) == 0 {
		errs = append(errs, ctx.Err())
	}
	return nil, errors.Join(errs...)
}

// try asks one upstream within share of the time left.
func (f *forwarder) try(ctx context.Context, share time.Duration, up string, req *mdns.Msg) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, share)
	defer cancel()
	resp, _, err := f.udp.ExchangeContext(ctx, req, up)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if !resp.Truncated {
		return resp, nil
	}
	resp, _, err = f.tcp.ExchangeContext(ctx, req, up)
	if err != nil {
		return nil, fmt.Errorf("tcp retry of a truncated answer: %w", err)
	}
	return resp, nil
}

// UpstreamsFromResolvConf reads the nameservers of a resolv.conf file (the
// host's /etc/resolv.conf in production) as host:port pairs on port 53,
// dropping exclude (the node DNS's own address, so it never forwards to
// itself).
func UpstreamsFromResolvConf(path string, exclude string) ([]string, error) {
	cc, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resolvers from %s: %w", path, err)
	}
	var ups []string
	for _, s := range cc.Servers {
		hp := net.JoinHostPort(s, cc.Port)
		if hp == exclude {
			continue
		}
		ups = append(ups, hp)
	}
	return ups, nil
}
