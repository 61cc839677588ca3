package proxy

import (
	"strconv"
)

// mk's fixed iptables chains. MK-SERVICES exists in both tables: in nat
// it sends service traffic to its service's chain; in filter it rejects
// traffic to services without ready endpoints.
const (
	iptServices    = "MK-SERVICES"
	iptNodePorts   = "MK-NODEPORTS"
	iptMarkMasq    = "MK-MARK-MASQ"
	iptPostrouting = "MK-POSTROUTING"
	iptForward     = "MK-FORWARD"
	iptFirewall    = "MK-FIREWALL"
	iptSvcPrefix   = "MK-SVC-"
	iptSepPrefix   = "MK-SEP-"
	iptChainPrefix = "MK-"
)

// markMasq is MarkMasq as the MARK and mark matches write it.
const markMasq = "0x4000/0x4000"

// iptJump is a rule in a built-in chain that jumps into one of mk's.
type iptJump struct {
	table, from, to string
	// spec is what goes between "-I <from>" and "-j <to>".
	spec string
}

// iptJumps are every jump from the built-in chains into mk's: service
// traffic from pods and other hosts (PREROUTING) and from the node
// (OUTPUT), masquerading, rejects for services without endpoints, and
// forwarding of service traffic past a host firewall's DROP policy.
var iptJumps = []iptJump{
	{"nat", "PREROUTING", iptServices, `-m comment --comment "mk service portals"`},
	{"nat", "OUTPUT", iptServices, `-m comment --comment "mk service portals"`},
	{"nat", "POSTROUTING", iptPostrouting, `-m comment --comment "mk service masquerading"`},
	{"filter", "INPUT", iptServices, `-m conntrack --ctstate NEW -m comment --comment "mk service rejects"`},
	{"filter", "FORWARD", iptServices, `-m conntrack --ctstate NEW -m comment --comment "mk service rejects"`},
	{"filter", "OUTPUT", iptServices, `-m conntrack --ctstate NEW -m comment --comment "mk service rejects"`},
	{"filter", "FORWARD", iptForward, `-m comment --comment "mk service forwarding"`},
	{"filter", "INPUT", iptFirewall, `-m comment --comment "mk localhost nodeports"`},
}

// iptRenderer renders a Ruleset as iptables-restore rules, chain by
// chain, into one growing buffer.
type iptRenderer struct {
	rs  *Ruleset
	buf []byte
	out []*chain
}

// renderIPTables returns every chain mk wants for rs, in a stable order:
// the fixed chains first, then each service port's. The fixed chains
// are rendered into buf; the ports' chains come from ports, or are
// rendered afresh when ports is nil.
func renderIPTables(rs *Ruleset, buf []byte, ports *renderCache[[]*chain]) ([]*chain, []byte) {
	r := &iptRenderer{rs: rs, buf: buf[:0]}
	r.natServices()
	r.nodePorts()
	r.chainOf("nat", iptMarkMasq, func() {
		r.rule(iptMarkMasq, "-j MARK --set-xmark", markMasq)
	})
	r.postrouting()
	r.filterServices()
	r.chainOf("filter", iptForward, func() {
		r.rule(iptForward, "-m mark --mark", markMasq, "-j ACCEPT")
		r.rule(iptForward, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	})
	r.chainOf("filter", iptFirewall, func() {
		if rs.Node.LocalhostNodePorts {
			// route_localnet lets packets to 127/8 in from outside; only
			// those mk DNATs (NodePorts) may stay.
			r.rule(iptFirewall, "! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
		}
	})
	if ports == nil {
		ports = &renderCache[[]*chain]{}
	}
	for _, sp := range rs.ServicePorts {
		if len(sp.Endpoints) > 0 {
			r.out = append(r.out, ports.get(sp, func() []*chain { return renderIPTablesPort(rs.Node, sp) })...)
		}
	}
	ports.done()
	return r.out, r.buf
}

// renderIPTablesPort renders the chains of one service port with ready
// endpoints into a buffer of their own.
func renderIPTablesPort(node NodeInfo, sp *ServicePort) []*chain {
	r := &iptRenderer{rs: &Ruleset{Node: node}}
	r.serviceChain(sp)
	for _, t := range sp.Endpoints {
		r.endpointChain(sp, t)
	}
	return r.out
}

// chainOf renders one chain with fill and records it.
func (r *iptRenderer) chainOf(table, name string, fill func()) {
	start := len(r.buf)
	fill()
	r.out = append(r.out, &chain{table: table, name: name, body: r.buf[start:len(r.buf):len(r.buf)]})
}

// rule appends "-A chain parts..." as one line.
func (r *iptRenderer) rule(chainName string, parts ...string) {
	r.buf = append(r.buf, "-A "...)
	r.buf = append(r.buf, chainName...)
	for _, p := range parts {
		r.buf = append(r.buf, ' ')
		r.buf = append(r.buf, p...)
	}
	r.buf = append(r.buf, '\n')
}

// dport is "-p proto -m proto --dport port".
func dport(proto string, port int) string {
	return "-p " + proto + " -m " + proto + " --dport " + strconv.Itoa(port)
}

func comment(s string) string { return `-m comment --comment "` + s + `"` }

func (r *iptRenderer) natServices() {
	r.chainOf("nat", iptServices, func() {
		for _, sp := range r.rs.ServicePorts {
			if len(sp.Endpoints) > 0 {
				r.rule(iptServices, "-d", sp.ClusterIP+"/32", comment(sp.Name()), dport(sp.Protocol, sp.Port), "-j", iptSvcPrefix+sp.ID)
			}
		}
		// NodePorts last: ClusterIPs match first, as they are more
		// specific.
		for _, dst := range r.nodePortDestinations() {
			r.rule(iptServices, dst, "-j", iptNodePorts)
		}
	})
}

// nodePortDestinations are the matches of the node's addresses NodePorts
// answer on.
func (r *iptRenderer) nodePortDestinations() []string {
	node := r.rs.Node
	if len(node.NodePortAddresses) == 0 {
		if node.LocalhostNodePorts {
			return []string{"-m addrtype --dst-type LOCAL"}
		}
		return []string{"! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL"}
	}
	var out []string
	for _, a := range node.NodePortAddresses {
		out = append(out, "-d "+a+"/32")
	}
	if node.LocalhostNodePorts {
		out = append(out, "-d 127.0.0.0/8")
	}
	return out
}

func (r *iptRenderer) nodePorts() {
	r.chainOf("nat", iptNodePorts, func() {
		for _, sp := range r.rs.ServicePorts {
			if sp.NodePort == 0 || len(sp.Endpoints) == 0 {
				continue
			}
			match := dport(sp.Protocol, sp.NodePort)
			r.rule(iptNodePorts, comment(sp.Name()), match, "-j", iptMarkMasq)
			r.rule(iptNodePorts, comment(sp.Name()), match, "-j", iptSvcPrefix+sp.ID)
		}
	})
}

func (r *iptRenderer) postrouting() {
	r.chainOf("nat", iptPostrouting, func() {
		r.rule(iptPostrouting, "-m mark ! --mark", markMasq, "-j RETURN")
		// Clear the bit so a packet that goes through again (a tunnel, a
		// bridge) is not masqueraded twice.
		r.rule(iptPostrouting, "-j MARK --set-xmark 0x4000/0x0")
		r.rule(iptPostrouting, comment("mk service traffic to masquerade"), "-j MASQUERADE --random-fully")
	})
}

// filterServices rejects at once connections to service ports without
// ready endpoints, instead of letting them time out.
func (r *iptRenderer) filterServices() {
	r.chainOf("filter", iptServices, func() {
		for _, sp := range r.rs.ServicePorts {
			if len(sp.Endpoints) > 0 {
				continue
			}
			reject := "-j REJECT --reject-with " + rejectWith(sp.Protocol)
			c := comment(sp.Name() + " has no endpoints")
			r.rule(iptServices, "-d", sp.ClusterIP+"/32", c, dport(sp.Protocol, sp.Port), reject)
			if sp.NodePort != 0 {
				r.rule(iptServices, "-m addrtype --dst-type LOCAL", c, dport(sp.Protocol, sp.NodePort), reject)
			}
		}
	})
}

func rejectWith(proto string) string {
	if proto == "tcp" {
		return "tcp-reset"
	}
	return "icmp-port-unreachable"
}

// serviceChain balances new connections over the ready endpoints with
// probabilities 1/n, 1/(n-1), …, 1, after the session-affinity matches.
func (r *iptRenderer) serviceChain(sp *ServicePort) {
	name := iptSvcPrefix + sp.ID
	r.chainOf("nat", name, func() {
		if r.rs.Node.PodCIDRPool != "" {
			r.rule(name, "!", "-s", r.rs.Node.PodCIDRPool, "-d", sp.ClusterIP+"/32", "-j", iptMarkMasq)
		}
		if sp.AffinitySeconds > 0 {
			secs := strconv.Itoa(sp.AffinitySeconds)
			for _, t := range sp.Endpoints {
				sep := iptSepPrefix + t.ID
				r.rule(name, "-m recent --name", sep, "--rcheck --seconds", secs, "--reap -j", sep)
			}
		}
		n := len(sp.Endpoints)
		for i, t := range sp.Endpoints {
			if left := n - i; left > 1 {
				r.rule(name, "-m statistic --mode random --probability", probability(left), "-j", iptSepPrefix+t.ID)
			} else {
				r.rule(name, "-j", iptSepPrefix+t.ID)
			}
		}
	})
}

// endpointChain DNATs to one endpoint, masquerading a pod that reaches
// itself through its service (hairpin), which would otherwise answer
// itself directly from the wrong address.
func (r *iptRenderer) endpointChain(sp *ServicePort, t *Target) {
	name := iptSepPrefix + t.ID
	r.chainOf("nat", name, func() {
		r.rule(name, "-s", t.IP+"/32", "-j", iptMarkMasq)
		proto := "-p " + sp.Protocol
		if sp.AffinitySeconds > 0 {
			proto += " -m recent --name " + name + " --set"
		}
		r.rule(name, proto, "-m", sp.Protocol, "-j DNAT --to-destination", t.Addr())
	})
}
