package dns

import (
	"net"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/mk-orchestrator/mk/structs"
)

// index is one immutable snapshot of the names the server answers inside
// the cluster domain. Update builds a new index from scratch and swaps it
// in with one atomic pointer store; queries load the pointer once and read
// a map nobody writes any more. So a query never takes a lock or waits for
// an Update, an Update never waits for queries, and a query sees either
// the old set of services or the new one, never half of each. Rebuilding
// costs O(services + endpoints) per Update, which the watch that feeds it
// already pays to decode them.
type index struct {
	// domain is the cluster domain as a lower-case FQDN ("mk.local.").
	domain string
	// names holds every name that exists in the zone, keyed by its
	// lower-case FQDN: services, their SRV names and the empty
	// non-terminals above them (which answer NODATA, not NXDOMAIN).
	names map[string]*node
	// soa is the zone's SOA, sent in the authority section of negative
	// answers so resolvers cache them for at most the TTL.
	soa  *mdns.SOA
	ttl  uint32
	apex *node
}

// node is what one name answers. Every RR's owner name is the node's
// lower-case key; answers for a query written in another case get copies
// with the query's spelling (see answer).
type node struct {
	a   []mdns.RR
	srv []mdns.RR
	// extra are the additional records of an SRV answer: the A records of
	// its targets.
	extra []mdns.RR
}

// result is the outcome of a lookup in the zone.
type result struct {
	rcode  int
	answer []mdns.RR
	extra  []mdns.RR
	// negative is set for NXDOMAIN and NODATA: the SOA goes in the
	// authority section.
	negative bool
}

// newIndex builds the index of services and their endpoints; endpoints are
// matched to services by namespace and name.
func newIndex(domain string, ttl uint32, serial uint32, services []*structs.Service, endpoints []*structs.Endpoints) *index {
	domain = mdns.CanonicalName(domain)
	idx := &index{domain: domain, names: make(map[string]*node, 2*len(services)+8), ttl: ttl}
	idx.soa = &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: domain, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl},
		Ns:      "ns.dns." + domain,
		Mbox:    "hostmaster." + domain,
		Serial:  serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ttl,
	}
	idx.apex = idx.ensure(domain)
	idx.ensure("svc." + domain)
	idx.ensure("pod." + domain)
	eps := make(map[string]*structs.Endpoints, len(endpoints))
	for _, e := range endpoints {
		if e != nil {
			eps[e.Namespace+"/"+e.Name] = e
		}
	}
	for _, svc := range services {
		if svc == nil || svc.Name == "" || svc.Namespace == "" {
			continue
		}
		idx.addService(svc, eps[svc.Namespace+"/"+svc.Name])
	}
	return idx
}

// ensure returns the node of name, creating it and the empty non-terminals
// between it and the zone's apex.
func (idx *index) ensure(name string) *node {
	n, ok := idx.names[name]
	if ok {
		return n
	}
	n = &node{}
	idx.names[name] = n
	if name != idx.domain {
		if _, parent, ok := strings.Cut(name, "."); ok && strings.HasSuffix(parent, idx.domain) {
			idx.ensure(parent)
		}
	}
	return n
}

// addService adds the A and SRV names of one service. A service with a
// ClusterIP answers with it; one without (headless) answers with the IPs of
// its ready endpoints, and its SRV records point at those pods' names.
func (idx *index) addService(svc *structs.Service, eps *structs.Endpoints) {
	name := strings.ToLower(svc.Name + "." + svc.Namespace + ".svc." + idx.domain)
	n := idx.ensure(name)
	var ready []*structs.Endpoint
	if eps != nil {
		for _, ep := range eps.Endpoints {
			if ep != nil && ep.Ready && net.ParseIP(ep.IP).To4() != nil {
				ready = append(ready, ep)
			}
		}
	}
	headless := net.ParseIP(svc.ClusterIP).To4() == nil
	if headless {
		for _, ep := range ready {
			n.a = append(n.a, idx.aRecord(name, ep.IP))
		}
	} else {
		n.a = []mdns.RR{idx.aRecord(name, svc.ClusterIP)}
	}
	for _, p := range svc.Ports {
		if p == nil || p.Name == "" {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		srvName := strings.ToLower("_" + p.Name + "._" + proto + "." + name)
		sn := idx.ensure(srvName)
		if !headless {
			sn.srv = append(sn.srv, idx.srvRecord(srvName, name, p.Port))
			sn.extra = n.a
			continue
		}
		for _, ep := range ready {
			port := p.TargetPort
			if ep.Ports[p.Name] != 0 {
				port = ep.Ports[p.Name]
			}
			target := podName(ep.IP, svc.Namespace, idx.domain)
			sn.srv = append(sn.srv, idx.srvRecord(srvName, target, port))
			sn.extra = append(sn.extra, idx.aRecord(target, ep.IP))
		}
	}
}

func (idx *index) aRecord(name, ip string) mdns.RR {
	return &mdns.A{
		Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: idx.ttl},
		A:   net.ParseIP(ip).To4(),
	}
}

func (idx *index) srvRecord(name, target string, port int) mdns.RR {
	return &mdns.SRV{
		Hdr:      mdns.RR_Header{Name: name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: idx.ttl},
		Priority: 0,
		Weight:   100,
		Port:     uint16(port),
		Target:   target,
	}
}

// podName is the DNS name of the pod with IPv4 address ip:
// a-b-c-d.<namespace>.pod.<domain>.
func podName(ip, namespace, domain string) string {
	return strings.ToLower(strings.ReplaceAll(ip, ".", "-") + "." + namespace + ".pod." + domain)
}

// inZone reports whether the lower-case FQDN name is in the cluster domain.
func (idx *index) inZone(name string) bool {
	return name == idx.domain || (strings.HasSuffix(name, idx.domain) && name[len(name)-len(idx.domain)-1] == '.')
}

// lookup answers a query for the lower-case FQDN name of type qtype, which
// must be in the zone.
func (idx *index) lookup(name string, qtype uint16) result {
	n, ok := idx.names[name]
	if !ok {
		n, ok = idx.podNode(name)
	}
	if !ok {
		return result{rcode: mdns.RcodeNameError, negative: true}
	}
	var res result
	switch qtype {
	case mdns.TypeA:
		res.answer = n.a
	case mdns.TypeSRV:
		res.answer, res.extra = n.srv, n.extra
	case mdns.TypeSOA:
		if n == idx.apex {
			res.answer = []mdns.RR{idx.soa}
		}
	}
	res.negative = len(res.answer) == 0
	return res
}

// podNode answers <a-b-c-d>.<namespace>.pod.<domain> with a.b.c.d. Any
// well-formed address in any namespace resolves, as Kubernetes' "pods
// insecure" mode does: the index only knows the pods behind services, and
// a pod's name says nothing its address does not.
func (idx *index) podNode(name string) (*node, bool) {
	rest, ok := strings.CutSuffix(name, ".pod."+idx.domain)
	if !ok {
		return nil, false
	}
	label, namespace, ok := strings.Cut(rest, ".")
	if !ok || namespace == "" || strings.Contains(namespace, ".") {
		return nil, false
	}
	ip, ok := parseDashedIPv4(label)
	if !ok {
		return nil, false
	}
	return &node{a: []mdns.RR{&mdns.A{
		Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: idx.ttl},
		A:   ip,
	}}}, true
}

// parseDashedIPv4 parses "10-42-1-7" as 10.42.1.7.
func parseDashedIPv4(s string) (net.IP, bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 4 {
		return nil, false
	}
	ip := make(net.IP, 4)
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return nil, false
		}
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return nil, false
		}
		ip[i] = byte(v)
	}
	return ip, true
}
