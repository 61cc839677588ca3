// Package ingress is the client's HTTP ingress: a reverse proxy
// (net/http/httputil) on every client that sends a request to a service
// by its Host and the longest path prefix among the cluster's ingress
// rules, straight to the service's ready endpoints. Its route table is
// rebuilt from the ingresses, services and endpoints on each change and
// swapped in atomically: a request reads one pointer and never waits for
// an update.
package ingress

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mk-orchestrator/mk/structs"
)

// Route is one host + path rule with the endpoints it sends to.
type Route struct {
	// Host is the rule's host ("" for any host), Path its path prefix.
	Host string
	Path string
	// Namespace and Service name the service; Port is its service port.
	Namespace string
	Service   string
	Port      int
	// StripPrefix removes Path from the forwarded request's path.
	StripPrefix bool
	// Backends are the ready endpoints as IP:port, in the endpoints'
	// order (sorted by pod name).
	Backends []string
	// Reason says why there are no backends.
	Reason string
	// next picks the backends in turn.
	next atomic.Uint64
}

// label is the route's name in metrics and logs: host + path.
func (r *Route) label() string { return r.Host + r.Path }

// pick returns the backends to try for one request, starting with the
// next in turn: the first is where the request goes, the others where it
// goes when that one refuses the connection.
func (r *Route) pick(n int) []string {
	if len(r.Backends) == 0 {
		return nil
	}
	n = min(n, len(r.Backends))
	start := int(r.next.Add(1) % uint64(len(r.Backends)))
	out := make([]string, n)
	for i := range out {
		out[i] = r.Backends[(start+i)%len(r.Backends)]
	}
	return out
}

// matches reports whether the rule's path prefix covers path, by whole
// path elements: "/a" (or "/a/") covers "/a", "/a/" and "/a/b", not
// "/ab".
func (r *Route) matches(path string) bool {
	if r.Path == "/" {
		return true
	}
	p := strings.TrimSuffix(r.Path, "/")
	return path == p || strings.HasPrefix(path, p) && path[len(p)] == '/'
}

// forwardPath is the path the endpoint gets for path: path itself, or
// without the rule's prefix when StripPrefix is set ("/a/x" → "/x",
// "/a" → "/").
func (r *Route) forwardPath(path string) string {
	if !r.StripPrefix {
		return path
	}
	rest := strings.TrimPrefix(path, strings.TrimSuffix(r.Path, "/"))
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest
}

// Table is an immutable route table: what one update of the ingresses,
// services or endpoints computes.
type Table struct {
	// hosts holds each host's routes, longest path first; anyHost the
	// routes of ingresses without a host, consulted when the host's own
	// routes match nothing.
	hosts   map[string][]*Route
	anyHost []*Route
	// Index is the endpoints index the table was built from.
	Index uint64
	// Conflicts are the rules left out because an older ingress has the
	// same host and path.
	Conflicts []string
}

// Match returns the route of a request for host (a Host header: a port
// and a trailing dot are ignored, case too) and path, or nil.
func (t *Table) Match(host, path string) *Route {
	if t == nil {
		return nil
	}
	for _, r := range t.hosts[normalizeHost(host)] {
		if r.matches(path) {
			return r
		}
	}
	for _, r := range t.anyHost {
		if r.matches(path) {
			return r
		}
	}
	return nil
}

// Hosts are the table's host names, sorted.
func (t *Table) Hosts() []string {
	out := make([]string, 0, len(t.hosts))
	for h := range t.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Routes are every route, by host then longest path.
func (t *Table) Routes() []*Route {
	var out []*Route
	for _, h := range t.Hosts() {
		out = append(out, t.hosts[h]...)
	}
	return append(out, t.anyHost...)
}

// normalizeHost is a Host header as the table keys it: lower case,
// without port or trailing dot.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// Build computes the route table of ingresses over services and their
// endpoints (index is the endpoints' index, kept as Table.Index). A rule
// routes to the service of its ingress's namespace; two ingresses with
// one host and path: the older one (lower CreateIndex, then namespace
// and ID) wins, the other is a conflict. Build is pure: it does not keep
// or change its arguments.
func Build(ingresses []*structs.Ingress, services []*structs.Service, endpoints []*structs.Endpoints, index uint64) *Table {
	t := &Table{hosts: map[string][]*Route{}, Index: index}
	svcs := make(map[string]*structs.Service, len(services))
	for _, s := range services {
		if s != nil {
			svcs[s.Namespace+"/"+s.Name] = s
		}
	}
	eps := make(map[string]*structs.Endpoints, len(endpoints))
	for _, e := range endpoints {
		if e != nil {
			eps[e.Namespace+"/"+e.Name] = e
		}
	}
	sorted := make([]*structs.Ingress, 0, len(ingresses))
	for _, in := range ingresses {
		if in != nil {
			sorted = append(sorted, in)
		}
	}
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.CreateIndex != b.CreateIndex {
			return a.CreateIndex < b.CreateIndex
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.ID < b.ID
	})
	seen := map[string]string{}
	for _, in := range sorted {
		host := normalizeHost(in.Host)
		for _, rule := range in.Rules {
			if rule == nil || !strings.HasPrefix(rule.Path, "/") {
				continue
			}
			key := host + rule.Path
			if owner, ok := seen[key]; ok {
				t.Conflicts = append(t.Conflicts, fmt.Sprintf("ingress %s/%s: host %q path %q is already routed by ingress %s", in.Namespace, in.ID, host, rule.Path, owner))
				continue
			}
			seen[key] = in.Namespace + "/" + in.ID
			key = in.Namespace + "/" + rule.Service
			r := newRoute(host, in.Namespace, rule, svcs[key], eps[key])
			if host == "" {
				t.anyHost = append(t.anyHost, r)
			} else {
				t.hosts[host] = append(t.hosts[host], r)
			}
		}
	}
	for _, routes := range t.hosts {
		sortLongestFirst(routes)
	}
	sortLongestFirst(t.anyHost)
	return t
}

func sortLongestFirst(routes []*Route) {
	sort.SliceStable(routes, func(i, j int) bool { return len(routes[i].Path) > len(routes[j].Path) })
}

// newRoute is the route of one rule: the ready endpoints of svc on the
// rule's port, or the reason there are none.
func newRoute(host, namespace string, rule *structs.IngressPath, svc *structs.Service, eps *structs.Endpoints) *Route {
	r := &Route{Host: host, Path: rule.Path, Namespace: namespace, Service: rule.Service, Port: rule.Port, StripPrefix: rule.StripPrefix}
	if svc == nil {
		r.Reason = fmt.Sprintf("service %s/%s does not exist", namespace, rule.Service)
		return r
	}
	var sp *structs.ServicePort
	for _, p := range svc.Ports {
		if p != nil && p.Port == rule.Port {
			sp = p
			break
		}
	}
	if sp == nil {
		r.Reason = fmt.Sprintf("service %s/%s has no port %d", namespace, rule.Service, rule.Port)
		return r
	}
	if eps != nil {
		for _, ep := range eps.Endpoints {
			if ep == nil || !ep.Ready || ep.IP == "" {
				continue
			}
			// Bridge pods serve on their IP and the service's target
			// port; host-network pods on their node's address and their
			// own node port: the endpoint says which.
			port := ep.Ports[sp.Name]
			if port == 0 {
				port = sp.TargetPort
			}
			if port > 0 {
				r.Backends = append(r.Backends, net.JoinHostPort(ep.IP, strconv.Itoa(port)))
			}
		}
	}
	if len(r.Backends) == 0 {
		r.Reason = fmt.Sprintf("service %s/%s has no ready endpoints", namespace, rule.Service)
	}
	return r
}
