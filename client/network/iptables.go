package network

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/coreos/go-iptables/iptables"

	"github.com/mk-orchestrator/mk/structs"
)

// mk's pod network chains. They are mk's alone (the service proxy has
// its own); the only rules of mk's outside them are the jumps into them.
const (
	// ChainMasquerade (nat, from POSTROUTING) masquerades traffic from
	// the pod CIDR pool to destinations outside it: pod-to-pod and
	// pod-to-node-in-pool traffic keeps its source address.
	ChainMasquerade = "MK-POD-MASQ"
	// ChainForward (filter, first in FORWARD) accepts pod traffic, so a
	// FORWARD policy of DROP (docker's) does not break it.
	ChainForward = "MK-POD-FORWARD"
	// ChainHostPorts (nat, from PREROUTING and OUTPUT for local
	// destinations) DNATs pods' node ports to the pods.
	ChainHostPorts = "MK-HOSTPORTS"
	// ChainHostPortsMasq (nat, from POSTROUTING) masquerades a pod's
	// connection to its own host port (hairpin): DNATed back to the pod,
	// it would otherwise arrive from the pod's own address, and the pod
	// drops it.
	ChainHostPortsMasq = "MK-HOSTPORTS-MASQ"
)

// ownChains are mk's chains (table, chain), made by Setup and removed by
// Teardown.
var ownChains = [][2]string{{"nat", ChainMasquerade}, {"filter", ChainForward}, {"nat", ChainHostPorts}, {"nat", ChainHostPortsMasq}}

// jump is a rule of another chain that jumps into one of mk's.
type jump struct {
	table, chain string
	// first inserts it at the top of chain, else it is appended.
	first bool
	rule  []string
}

func jumps() []jump {
	return []jump{
		{"nat", "POSTROUTING", false, []string{"-m", "comment", "--comment", "mk: masquerade pods to outside the pool", "-j", ChainMasquerade}},
		{"nat", "POSTROUTING", false, []string{"-m", "comment", "--comment", "mk: pods to their own host ports", "-j", ChainHostPortsMasq}},
		{"filter", "FORWARD", true, []string{"-m", "comment", "--comment", "mk: pod traffic", "-j", ChainForward}},
		{"nat", "PREROUTING", false, []string{"-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "mk: pod host ports", "-j", ChainHostPorts}},
		// Not loopback: a DNAT of 127.0.0.1 to a pod would be dropped as
		// martian, and a refused connection beats a hanging one.
		{"nat", "OUTPUT", false, []string{"!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "mk: pod host ports", "-j", ChainHostPorts}},
	}
}

// staticRules are the contents of the chains Setup owns outright.
func (m *Manager) staticRules() map[[2]string][][]string {
	pool, br := m.pool.String(), m.cfg.Bridge
	return map[[2]string][][]string{
		{"nat", ChainMasquerade}: {
			{"-d", "224.0.0.0/4", "-j", "RETURN"}, // multicast stays on the link
			{"-s", pool, "!", "-d", pool, "-j", "MASQUERADE"},
		},
		{"filter", ChainForward}: {
			{"-i", br, "-j", "ACCEPT"},
			{"-o", br, "-j", "ACCEPT"},
			{"-s", pool, "-j", "ACCEPT"},
			{"-d", pool, "-j", "ACCEPT"},
		},
	}
}

// iptables runs fn with an IPv4 iptables in the host's namespace.
func (m *Manager) iptables(fn func(ipt *iptables.IPTables) error) error {
	return inNetNS(m.cfg.HostNetNS, func() error {
		ipt, err := iptables.New(iptables.IPFamily(iptables.ProtocolIPv4), iptables.Timeout(10))
		if err != nil {
			return fmt.Errorf("iptables: %w", err)
		}
		return fn(ipt)
	})
}

// setupRules creates mk's chains, fills the static ones (rewriting them
// only when they differ) and inserts the jumps that are missing. The
// host-port chain's rules (the pods') are left as they are.
func (m *Manager) setupRules() error {
	return m.iptables(func(ipt *iptables.IPTables) error {
		for _, tc := range ownChains {
			if err := ensureChain(ipt, tc[0], tc[1]); err != nil {
				return err
			}
		}
		for tc, rules := range m.staticRules() {
			if err := syncChain(ipt, tc[0], tc[1], rules); err != nil {
				return err
			}
		}
		for _, j := range jumps() {
			if err := ensureJump(ipt, j); err != nil {
				return err
			}
		}
		return nil
	})
}

func ensureChain(ipt *iptables.IPTables, table, chain string) error {
	ok, err := ipt.ChainExists(table, chain)
	if err == nil && !ok {
		err = ipt.NewChain(table, chain)
	}
	if err != nil {
		return fmt.Errorf("create chain %s/%s: %w", table, chain, err)
	}
	return nil
}

// syncChain makes chain hold exactly rules, rewriting it only when it
// differs (so traffic is not left without rules for a moment at every
// start).
func syncChain(ipt *iptables.IPTables, table, chain string, rules [][]string) error {
	cur, err := ipt.List(table, chain)
	if err != nil {
		return fmt.Errorf("list chain %s/%s: %w", table, chain, err)
	}
	same := len(cur) == len(rules)+1 // "-N chain" comes first
	for i := 0; same && i < len(rules); i++ {
		same, err = ipt.Exists(table, chain, rules[i]...)
		if err != nil {
			return fmt.Errorf("check chain %s/%s: %w", table, chain, err)
		}
	}
	if same {
		return nil
	}
	if err := ipt.ClearChain(table, chain); err != nil {
		return fmt.Errorf("flush chain %s/%s: %w", table, chain, err)
	}
	for _, r := range rules {
		if err := ipt.Append(table, chain, r...); err != nil {
			return fmt.Errorf("add rule to %s/%s: %w", table, chain, err)
		}
	}
	return nil
}

func ensureJump(ipt *iptables.IPTables, j jump) error {
	ok, err := ipt.Exists(j.table, j.chain, j.rule...)
	switch {
	case err != nil:
	case ok:
		return nil
	case j.first:
		err = ipt.Insert(j.table, j.chain, 1, j.rule...)
	default:
		err = ipt.Append(j.table, j.chain, j.rule...)
	}
	if err != nil {
		return fmt.Errorf("jump from %s/%s: %w", j.table, j.chain, err)
	}
	return nil
}

// teardownRules removes the jumps and mk's chains.
func (m *Manager) teardownRules() error {
	return m.iptables(func(ipt *iptables.IPTables) error {
		for _, j := range jumps() {
			if err := ipt.DeleteIfExists(j.table, j.chain, j.rule...); err != nil {
				return fmt.Errorf("remove jump from %s/%s: %w", j.table, j.chain, err)
			}
		}
		for _, tc := range ownChains {
			ok, err := ipt.ChainExists(tc[0], tc[1])
			if err == nil && ok {
				err = ipt.ClearAndDeleteChain(tc[0], tc[1])
			}
			if err != nil {
				return fmt.Errorf("remove chain %s/%s: %w", tc[0], tc[1], err)
			}
		}
		return nil
	})
}

// hostPortTag is the comment of a pod's host-port rules: mk's, this
// node's, the pod's. It holds no spaces, so listed rules split into
// arguments as they are.
func (m *Manager) hostPortTag(podID string) string {
	return "mk-hostport:" + m.cfg.NodeID + ":" + podID
}

// hostPortRules are the DNAT rules of a pod's ports: node port Value to
// the pod's port To, tcp and udp.
func (m *Manager) hostPortRules(podID string, ip net.IP, ports []*structs.AllocatedPort) [][]string {
	var out [][]string
	for _, p := range ports {
		if p == nil || p.Value <= 0 {
			continue
		}
		to := p.To
		if to <= 0 {
			to = p.Value
		}
		for _, proto := range []string{"tcp", "udp"} {
			out = append(out, []string{"-p", proto, "-m", "comment", "--comment", m.hostPortTag(podID),
				"-m", proto, "--dport", strconv.Itoa(p.Value),
				"-j", "DNAT", "--to-destination", net.JoinHostPort(ip.String(), strconv.Itoa(to))})
		}
	}
	return out
}

// hairpinRule masquerades the pod's connections to itself: to its own
// host ports, DNATed back to it.
func (m *Manager) hairpinRule(podID string, ip net.IP) []string {
	return []string{"-s", ip.String() + "/32", "-d", ip.String() + "/32", "-m", "comment", "--comment", m.hostPortTag(podID), "-j", "MASQUERADE"}
}

// addHostPorts adds the pod's DNAT rules and its hairpin rule that are
// missing.
func (m *Manager) addHostPorts(podID string, ip net.IP, ports []*structs.AllocatedPort) error {
	rules := m.hostPortRules(podID, ip, ports)
	if len(rules) == 0 {
		return nil
	}
	return m.iptables(func(ipt *iptables.IPTables) error {
		for _, r := range rules {
			if err := ipt.AppendUnique("nat", ChainHostPorts, r...); err != nil {
				return fmt.Errorf("add host port rule: %w", err)
			}
		}
		if err := ipt.AppendUnique("nat", ChainHostPortsMasq, m.hairpinRule(podID, ip)...); err != nil {
			return fmt.Errorf("add host port hairpin rule: %w", err)
		}
		return nil
	})
}

// removeHostPorts removes the host-port rules (DNAT and hairpin) of this
// node's pods for which drop is true, as the kernel lists them.
func (m *Manager) removeHostPorts(drop func(podID string) bool) error {
	return m.iptables(func(ipt *iptables.IPTables) error {
		for _, chain := range []string{ChainHostPorts, ChainHostPortsMasq} {
			if err := m.removeTagged(ipt, chain, drop); err != nil {
				return err
			}
		}
		return nil
	})
}

// removeTagged removes the rules of a nat chain whose host-port tag names
// a pod for which drop is true.
func (m *Manager) removeTagged(ipt *iptables.IPTables, chain string, drop func(podID string) bool) error {
	ok, err := ipt.ChainExists("nat", chain)
	if err != nil || !ok {
		return err
	}
	lines, err := ipt.List("nat", chain)
	if err != nil {
		return fmt.Errorf("list %s: %w", chain, err)
	}
	prefix := m.hostPortTag("")
	for _, line := range lines {
		// iptables quotes the comment; it holds no spaces, so the rule
		// splits into its arguments once the quotes go.
		args := strings.Fields(strings.ReplaceAll(line, `"`, ""))
		if len(args) < 2 || args[0] != "-A" {
			continue
		}
		id, ok := ruleComment(args, prefix)
		if !ok || !drop(id) {
			continue
		}
		if err := ipt.DeleteIfExists("nat", chain, args[2:]...); err != nil {
			return fmt.Errorf("remove host port rule of pod %s: %w", id, err)
		}
	}
	return nil
}

// ruleComment returns what follows prefix in a rule's comment.
func ruleComment(args []string, prefix string) (string, bool) {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--comment" {
			return strings.CutPrefix(args[i+1], prefix)
		}
	}
	return "", false
}
