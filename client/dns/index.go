package dns

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

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
	// podSuffix is ".pod.<domain>": names under it are computed, not
	// stored.
	podSuffix string
	// nxdomain and nodata are the packed negative answers (the SOA, not
	// compressed, so they fit any question).
	nxdomain, nodata *wireAnswer
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
	// wireA and wireSRV are the packed answers (wire.go), made on first
	// use: packing every name on each Update would make Updates of large
	// clusters slow for names nobody asks for. Storing them is the only
	// write to a published index; two queries racing make the same bytes.
	wireA, wireSRV atomic.Pointer[wireAnswer]
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
// matched to services by namespace and name. hosts maps the ingress host
// names (lower-case FQDNs, in the zone or not) to the IPv4 address they
// answer with; a name a service already has keeps the service's answer.
func newIndex(domain string, ttl uint32, serial uint32, services []*structs.Service, endpoints []*structs.Endpoints, hosts map[string]string) *index {
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
	idx.podSuffix = ".pod." + domain
	idx.nxdomain = packWire(domain, mdns.TypeA, result{rcode: mdns.RcodeNameError, negative: true}, idx.soa, false)
	idx.nodata = packWire(domain, mdns.TypeA, result{negative: true}, idx.soa, false)
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
	for name, ip := range hosts {
		idx.addHost(name, ip)
	}
	return idx
}

// addHost adds an ingress host name: an A record of the node's address.
// Outside the zone the name stands alone (no parents), so a query of a
// name under it is forwarded as before.
func (idx *index) addHost(name, ip string) {
	if net.ParseIP(ip).To4() == nil {
		return
	}
	if n, ok := idx.names[name]; ok && (len(n.a) > 0 || len(n.srv) > 0) {
		return
	}
	var n *node
	if idx.inZone(name) {
		n = idx.ensure(name)
	} else {
		n = &node{}
		idx.names[name] = n
	}
	n.a = []mdns.RR{idx.aRecord(name, ip)}
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
// must be in the zone or an ingress host.
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

// wireFor returns the packed answer to a query for key (a lower-case
// FQDN) of type qtype, or nil when the general path must answer it: names
// outside the zone, pod names, the apex's SOA.
func (idx *index) wireFor(key []byte, qtype uint16) *wireAnswer {
	n, ok := idx.names[string(key)]
	if !ok {
		if !bytes.HasSuffix(key, []byte(idx.domain)) || len(key) == len(idx.domain) ||
			key[len(key)-len(idx.domain)-1] != '.' || bytes.HasSuffix(key, []byte(idx.podSuffix)) {
			return nil
		}
		return idx.nxdomain
	}
	switch {
	case qtype == mdns.TypeA && len(n.a) > 0:
		return idx.memo(&n.wireA, key, qtype)
	case qtype == mdns.TypeSRV && len(n.srv) > 0:
		return idx.memo(&n.wireSRV, key, qtype)
	case qtype == mdns.TypeSOA && n == idx.apex:
		return nil
	}
	return idx.nodata
}

// memo returns the packed answer in p, packing it on first use.
func (idx *index) memo(p *atomic.Pointer[wireAnswer], key []byte, qtype uint16) *wireAnswer {
	if wa := p.Load(); wa != nil {
		return wa
	}
	name := string(key)
	wa := packWire(name, qtype, idx.lookup(name, qtype), idx.soa, true)
	if wa != nil {
		p.Store(wa)
	}
	return wa
}
