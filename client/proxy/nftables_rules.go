package proxy

import (
	"net/netip"
	"strconv"
	"strings"
)

// nftTable is mk's table; every object nftables mode writes lives in it.
const nftTable = "ip mk"

// mk's maps and sets of service ports. A packet's (destination,
// protocol, port) is looked up in service-ips in one step, however many
// services there are, and sent on to its service's chain. hairpin holds
// (endpoint, endpoint) pairs: a packet from an endpoint to itself has
// come back through its service and is masqueraded.
const (
	nftServiceIPs          = "service-ips"
	nftServiceNodePorts    = "service-nodeports"
	nftNoEndpointServices  = "no-endpoint-services"
	nftNoEndpointNodePorts = "no-endpoint-nodeports"
	nftHairpin             = "hairpin"
)

// nftContainers declare the maps and sets above.
var nftContainers = []struct{ kind, name, spec string }{
	{"map", nftServiceIPs, "type ipv4_addr . inet_proto . inet_service : verdict;"},
	{"map", nftServiceNodePorts, "type inet_proto . inet_service : verdict;"},
	{"set", nftNoEndpointServices, "type ipv4_addr . inet_proto . inet_service;"},
	{"set", nftNoEndpointNodePorts, "type inet_proto . inet_service;"},
	{"set", nftHairpin, "type ipv4_addr . ipv4_addr;"},
}

// nftBaseChains are mk's chains hooked into the kernel, with their hook
// declaration. The nat hooks run at the usual DNAT/SNAT priorities; the
// filter hooks run just before iptables' filter table.
var nftBaseChains = map[string]string{
	"nat-prerouting":  "type nat hook prerouting priority dstnat; policy accept;",
	"nat-output":      "type nat hook output priority -100; policy accept;",
	"nat-postrouting": "type nat hook postrouting priority srcnat; policy accept;",
	"filter-input":    "type filter hook input priority -10; policy accept;",
	"filter-forward":  "type filter hook forward priority -10; policy accept;",
	"filter-output":   "type filter hook output priority -10; policy accept;",
}

const (
	nftSvcPrefix      = "svc-"
	nftExtPrefix      = "ext-"
	nftAffinityPrefix = "affinity-"
)

// nftMarkMasq sets the masquerade bit, inline: a jump to a shared chain
// would add one more chain to the walk the kernel makes over the whole
// table at every commit.
const nftMarkMasq = "meta mark set meta mark | 0x4000"

// element is one element of a map or set: value is "" in a set.
type element struct {
	container, key, value string
	// id is "container key", made once: the writer looks every element
	// up by it at every sync.
	id string
}

func newElement(container, key, value string) *element {
	return &element{container: container, key: key, value: value, id: container + " " + key}
}

// nftRules is everything mk wants in its table for one Ruleset.
type nftRules struct {
	chains   []*chain
	elements []*element
	// sets are the per-endpoint session-affinity sets.
	sets []nftSet
	// shards are the endpoint maps the rules use (see endpointSlots).
	shards []nftSet
}

// nftSet is a set mk declares beside the fixed ones.
type nftSet struct{ name, spec string }

type nftRenderer struct {
	rs   *Ruleset
	nets nodeNets
	buf  []byte
	out  nftRules
}

// nodeNets are the node's address ranges the nftables rules test
// addresses against, parsed once per render; an unset or invalid one is
// the zero Prefix.
type nodeNets struct {
	services, pods netip.Prefix
}

func parseNodeNets(node NodeInfo) nodeNets {
	services, _ := netip.ParsePrefix(node.ServiceCIDR)
	pods, _ := netip.ParsePrefix(node.PodCIDR)
	return nodeNets{services: services, pods: pods}
}

// inServiceRange says whether a ClusterIP is in the service range.
func (n nodeNets) inServiceRange(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	return err == nil && n.services.IsValid() && n.services.Contains(addr)
}

// local says whether an endpoint address is in the node's pod subnet:
// every address when the subnet is unknown.
func (n nodeNets) local(ip string) bool {
	if !n.pods.IsValid() {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	return err != nil || n.pods.Contains(addr)
}

// nftRender is one sync's rendering, port by port: what a full sync
// writes (all of it) and what a partial one compares (the ports rendered
// afresh against those that went).
type nftRender struct {
	fixed *nftRules
	ports []*nftRules
	// fresh are the ports rendered for this sync (new or changed); gone
	// those of the last sync that are no longer wanted.
	fresh, gone []*nftRules
}

// renderNFTablesPorts renders rs: the fixed chains into buf, each service
// port's objects from ports (or afresh when ports is nil), with the
// endpoint map slots of slots (a new set when nil), which it updates.
func renderNFTablesPorts(rs *Ruleset, buf []byte, ports *renderCache[*nftRules], slots *endpointSlots) (*nftRender, []byte) {
	nets := parseNodeNets(rs.Node)
	r := &nftRenderer{rs: rs, nets: nets, buf: buf[:0]}
	r.fixedChains()
	if ports == nil {
		ports = &renderCache[*nftRules]{}
	}
	if slots == nil {
		slots = newEndpointSlots()
	}
	out := &nftRender{fixed: &r.out, ports: make([]*nftRules, 0, len(rs.ServicePorts))}
	slotted := make(map[string]bool, len(rs.ServicePorts))
	for _, sp := range rs.ServicePorts {
		if usesMap(sp) {
			slotted[sp.ID] = true
		}
		out.ports = append(out.ports, ports.get(sp, func() *nftRules {
			slot := -1
			if usesMap(sp) {
				slot = slots.of(sp.ID)
			}
			return renderNFTablesPort(rs.Node, nets, sp, slot)
		}))
	}
	// After the loop: a slot released now is handed out again only in a
	// later sync, never to a port of this one.
	slots.keep(slotted)
	out.fresh, out.gone = ports.done()
	return out, r.buf
}

// chains are every chain of the rendering, fixed chains first.
func (r *nftRender) chains() []*chain {
	out := append([]*chain(nil), r.fixed.chains...)
	for _, p := range r.ports {
		out = append(out, p.chains...)
	}
	return out
}

// flatten is everything in one nftRules; an endpoint that serves several
// services is one hairpin element.
func (r *nftRender) flatten() *nftRules {
	out := &nftRules{chains: r.chains()}
	hairpins := map[string]bool{}
	shards := map[string]bool{}
	for _, p := range r.ports {
		out.sets = append(out.sets, p.sets...)
		for _, m := range p.shards {
			if !shards[m.name] {
				shards[m.name] = true
				out.shards = append(out.shards, m)
			}
		}
		for _, e := range p.elements {
			if e.container == nftHairpin {
				if hairpins[e.key] {
					continue
				}
				hairpins[e.key] = true
			}
			out.elements = append(out.elements, e)
		}
	}
	return out
}

// renderNFTables returns the chains, elements and sets mk wants for rs
// (see renderNFTablesPorts).
func renderNFTables(rs *Ruleset, buf []byte, ports *renderCache[*nftRules], slots *endpointSlots) (*nftRules, []byte) {
	r, buf := renderNFTablesPorts(rs, buf, ports, slots)
	return r.flatten(), buf
}

// renderNFTablesPort renders one service port's objects into a buffer
// of their own; slot is its endpoint map slot, -1 when it has none.
func renderNFTablesPort(node NodeInfo, nets nodeNets, sp *ServicePort, slot int) *nftRules {
	r := &nftRenderer{rs: &Ruleset{Node: node}, nets: nets}
	if len(sp.Endpoints) == 0 {
		key := sp.ClusterIP + " . " + sp.Protocol + " . " + strconv.Itoa(sp.Port)
		r.element(nftNoEndpointServices, key, "")
		if sp.NodePort != 0 {
			r.element(nftNoEndpointNodePorts, sp.Protocol+" . "+strconv.Itoa(sp.NodePort), "")
		}
		return &r.out
	}
	r.servicePort(sp, slot)
	return &r.out
}

func (r *nftRenderer) element(container, key, value string) {
	r.out.elements = append(r.out.elements, newElement(container, key, value))
}

func (r *nftRenderer) chainOf(name string, rules ...string) {
	start := len(r.buf)
	for _, rule := range rules {
		r.rule(name, rule)
	}
	r.out.chains = append(r.out.chains, &chain{name: name, body: r.buf[start:len(r.buf):len(r.buf)]})
}

func (r *nftRenderer) rule(chainName, rule string) {
	r.buf = append(r.buf, "add rule "+nftTable+" "...)
	r.buf = append(r.buf, chainName...)
	r.buf = append(r.buf, ' ')
	r.buf = append(r.buf, rule...)
	r.buf = append(r.buf, '\n')
}

// fixedChains are the chains every node has, whatever its services.
func (r *nftRenderer) fixedChains() {
	node := r.rs.Node
	r.chainOf("nat-prerouting", "jump services")
	r.chainOf("nat-output", "jump services")
	r.chainOf("nat-postrouting",
		"ip saddr . ip daddr @"+nftHairpin+" "+nftMarkMasq,
		"jump masquerading")
	var services []string
	if node.PodCIDRPool != "" && r.nets.services.IsValid() {
		services = append(services, "ip daddr "+r.nets.services.String()+" ip saddr != "+node.PodCIDRPool+" "+nftMarkMasq)
	}
	r.chainOf("services", append(services,
		"ip daddr . meta l4proto . th dport vmap @"+nftServiceIPs,
		r.nodePortMatch()+" meta l4proto . th dport vmap @"+nftServiceNodePorts)...)
	// Clear the bit so a packet that goes through again (a tunnel, a
	// bridge) is not masqueraded twice.
	r.chainOf("masquerading",
		"meta mark & 0x4000 == 0 return",
		"meta mark set meta mark xor 0x4000",
		"masquerade fully-random")
	r.chainOf("filter-input", "ct state new jump service-rejects", "jump firewall")
	// No accept of marked traffic here, unlike iptables' MK-FORWARD: an
	// accept in one nftables base chain does not stop another (iptables'
	// FORWARD with docker's DROP policy) from dropping the packet. The
	// pod network's own FORWARD rules for the pod CIDR pool cover
	// service traffic, which is DNATed to pods.
	r.chainOf("filter-forward", "ct state new jump service-rejects")
	r.chainOf("filter-output", "ct state new jump service-rejects")
	r.chainOf("service-rejects",
		"ip daddr . meta l4proto . th dport @"+nftNoEndpointServices+" goto reject-chain",
		"fib daddr type local meta l4proto . th dport @"+nftNoEndpointNodePorts+" goto reject-chain")
	r.chainOf("reject-chain", "meta l4proto tcp reject with tcp reset", "reject")
	var firewall []string
	if node.LocalhostNodePorts {
		// route_localnet lets packets to 127/8 in from outside; only
		// those mk DNATs (NodePorts) may stay.
		firewall = append(firewall, "ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related } ct status & dnat == 0 drop")
	}
	r.chainOf("firewall", firewall...)
}

// nodePortMatch matches the node's addresses NodePorts answer on.
func (r *nftRenderer) nodePortMatch() string {
	node := r.rs.Node
	if len(node.NodePortAddresses) == 0 {
		if node.LocalhostNodePorts {
			return "fib daddr type local"
		}
		return "fib daddr type local ip daddr != 127.0.0.0/8"
	}
	addrs := append([]string(nil), node.NodePortAddresses...)
	if node.LocalhostNodePorts {
		addrs = append(addrs, "127.0.0.0/8")
	}
	return "ip daddr { " + strings.Join(addrs, ", ") + " }"
}

// servicePort renders the chains and elements of a port with ready
// endpoints: the map element to its chain, the chain that picks an
// endpoint, and the NodePort's.
//
// A port with a slot picks its endpoint with one rule and a lookup in
// an endpoint map (see endpointSlots). A port with one endpoint DNATs
// to it. A port with session affinity has two rules per endpoint: one
// keeps a client that its affinity set holds, one picks an endpoint as
// iptables' statistic rules do (rule i matches with probability
// 1/(n-i), so each of n endpoints is picked with probability 1/n) and
// adds the client to the set. No chain per endpoint: at every commit the
// kernel walks every chain reachable from mk's hooks (see
// docs/architecture.md).
func (r *nftRenderer) servicePort(sp *ServicePort, slot int) {
	svc := nftSvcPrefix + sp.ID
	r.element(nftServiceIPs, sp.ClusterIP+" . "+sp.Protocol+" . "+strconv.Itoa(sp.Port), "goto "+svc)
	if sp.NodePort != 0 {
		ext := nftExtPrefix + sp.ID
		r.element(nftServiceNodePorts, sp.Protocol+" . "+strconv.Itoa(sp.NodePort), "goto "+ext)
		r.portChain(ext, []nftStmt{stmtMarkMasq{}}, []nftStmt{stmtGoto{svc}})
	}
	rules := make([][]nftStmt, 0, 2*len(sp.Endpoints)+1)
	if pool := r.rs.Node.PodCIDRPool; pool != "" && !r.nets.inServiceRange(sp.ClusterIP) {
		rules = append(rules, []nftStmt{stmtSaddrNotIn{pool}, stmtMarkMasq{}})
	}
	for _, t := range sp.Endpoints {
		if r.nets.local(t.IP) {
			r.element(nftHairpin, t.IP+" . "+t.IP, "")
		}
	}
	if slot >= 0 {
		m := endpointsMap(slot, sp.Protocol)
		offset := slot << nftSlotBits
		for i, t := range sp.Endpoints {
			r.element(m.name, strconv.Itoa(offset+i), t.IP+" . "+strconv.Itoa(t.Port))
		}
		r.out.shards = append(r.out.shards, m)
		rules = append(rules, []nftStmt{stmtDNATMap{proto: sp.Protocol, mod: len(sp.Endpoints), offset: offset, m: m.name}})
		r.portChain(svc, rules...)
		return
	}
	if sp.AffinitySeconds > 0 {
		for _, t := range sp.Endpoints {
			set := nftAffinityPrefix + t.ID
			r.out.sets = append(r.out.sets, nftSet{name: set, spec: affinitySetSpec(sp.AffinitySeconds)})
			rules = append(rules, []nftStmt{stmtSaddrInSet{set}, stmtUpdateSet{set}, stmtDNAT{sp.Protocol, t.IP, t.Port}})
		}
	}
	n := len(sp.Endpoints)
	for i, t := range sp.Endpoints {
		var rule []nftStmt
		if i < n-1 {
			rule = append(rule, stmtNumgenIs{mod: n - i})
		}
		if sp.AffinitySeconds > 0 {
			rule = append(rule, stmtUpdateSet{nftAffinityPrefix + t.ID})
		}
		rules = append(rules, append(rule, stmtDNAT{sp.Protocol, t.IP, t.Port}))
	}
	r.portChain(svc, rules...)
}

// portChain is a service port's chain: its text, and its statements for
// a full sync over netlink.
func (r *nftRenderer) portChain(name string, rules ...[]nftStmt) {
	start := len(r.buf)
	for _, rule := range rules {
		r.buf = append(r.buf, "add rule "+nftTable+" "...)
		r.buf = append(r.buf, name...)
		r.buf = append(r.buf, ' ')
		r.buf = nftRuleText(r.buf, rule)
		r.buf = append(r.buf, '\n')
	}
	r.out.chains = append(r.out.chains, &chain{name: name, body: r.buf[start:len(r.buf):len(r.buf)], stmts: rules})
}

// affinitySetSpec declares a session-affinity set: client addresses seen
// within seconds.
func affinitySetSpec(seconds int) string {
	return "type ipv4_addr; flags dynamic,timeout; timeout " + strconv.Itoa(seconds) + "s;"
}
