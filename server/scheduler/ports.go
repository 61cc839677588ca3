package scheduler

import (
	"hash/fnv"
	"net"
	"strconv"

	"github.com/mk-orchestrator/mk/structs"
)

// Ports are node resources: a group's network ports take ports of the
// node its pod runs on. A static port takes the port it names; a dynamic
// port (no static) takes one the scheduler picks from the node's range
// (structs.NodeResources.DynamicPortRange). A port is held while its pod
// is active (placed, wanted running, not finished), as cpu and memory are.

// Reasons of the port checker.
const (
	reasonPortInUsePrefix = "port "
	reasonPortInUseSuffix = " already in use"
	// ReasonDynamicPortsExhausted: the node's range has too few free ports.
	ReasonDynamicPortsExhausted = "dynamic ports exhausted"
)

// portInUseReason is the reason for a static port taken on a node:
// `port 9090 already in use`.
func portInUseReason(port int) string {
	return reasonPortInUsePrefix + strconv.Itoa(port) + reasonPortInUseSuffix
}

// portSet is the ports taken on one node.
type portSet map[int]bool

// addPod marks the ports an active pod holds. A pod written before ports
// were allocated holds its group's static ports.
func (s portSet) addPod(p *structs.Pod) {
	if p.Ports != nil {
		s.add(p.Ports)
		return
	}
	if p.Template == nil || p.Template.Network == nil {
		return
	}
	for _, port := range p.Template.Network.Ports {
		if port != nil && port.Static > 0 {
			s[port.Static] = true
		}
	}
}

// add marks allocated ports.
func (s portSet) add(ports []*structs.AllocatedPort) {
	for _, p := range ports {
		s[p.Value] = true
	}
}

// conflict returns the first allocated port already in s, or 0.
func (s portSet) conflict(ports []*structs.AllocatedPort) int {
	for _, p := range ports {
		if s[p.Value] {
			return p.Value
		}
	}
	return 0
}

// groupPorts returns a group's network ports, nil entries left out.
func groupPorts(g *structs.TaskGroup) []*structs.Port {
	if g == nil || g.Network == nil {
		return nil
	}
	out := make([]*structs.Port, 0, len(g.Network.Ports))
	for _, p := range g.Network.Ports {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// PortChecker passes nodes where every static port of the group is free
// and the dynamic range has a free port for each dynamic one.
type PortChecker struct{}

// Check implements Checker. The reason is `port 9090 already in use` for
// the first static port taken, or `dynamic ports exhausted`.
func (PortChecker) Check(c *Candidate) (bool, string) {
	ports := groupPorts(c.Group)
	if len(ports) == 0 {
		return true, ""
	}
	lo, hi := c.Node.Resources.DynamicPortRange()
	dynamic := 0
	own := map[int]bool{} // the pod's static ports inside the range
	for _, p := range ports {
		switch {
		case p.Static == 0:
			dynamic++
		case c.UsedPorts[p.Static]:
			return false, portInUseReason(p.Static)
		case p.Static >= lo && p.Static <= hi:
			own[p.Static] = true
		}
	}
	if dynamic == 0 {
		return true, ""
	}
	taken := len(own)
	for port := range c.UsedPorts {
		if port >= lo && port <= hi {
			taken++
		}
	}
	if hi-lo+1-taken < dynamic {
		return false, ReasonDynamicPortsExhausted
	}
	return true, ""
}

// allocatePorts gives a pod of group g on node n its ports, beside those
// taken in used, which it does not change. A dynamic port is searched from
// a start that hashes the pod ID and the label (so pods do not all
// contend for the bottom of the range and a port just freed is not handed
// out again at once), upward, wrapping round the range. The result depends
// only on its inputs. PortChecker must have passed the node: a port that
// cannot be found is left out.
func allocatePorts(n *structs.Node, g *structs.TaskGroup, podID string, used portSet) []*structs.AllocatedPort {
	ports := groupPorts(g)
	if len(ports) == 0 {
		return nil
	}
	ip := nodeIP(n)
	out := make([]*structs.AllocatedPort, 0, len(ports))
	mine := portSet{}
	for _, p := range ports {
		if p.Static > 0 {
			mine[p.Static] = true
		}
	}
	lo, hi := n.Resources.DynamicPortRange()
	for _, p := range ports {
		value := p.Static
		if value == 0 {
			value = pickDynamic(lo, hi, podID+"/"+p.Label, used, mine)
			if value == 0 {
				continue
			}
			mine[value] = true
		}
		to := p.To
		if to == 0 {
			to = value
		}
		out = append(out, &structs.AllocatedPort{Label: p.Label, Value: value, To: to, HostIP: ip})
	}
	return out
}

// pickDynamic returns the first port free in both sets, from the hashed
// start of key, or 0 when the range has none.
func pickDynamic(lo, hi int, key string, used, mine portSet) int {
	size := hi - lo + 1
	if size <= 0 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	start := int(h.Sum32() % uint32(size))
	for i := range size {
		port := lo + (start+i)%size
		if !used[port] && !mine[port] {
			return port
		}
	}
	return 0
}

// nodeIP is the host part of the node's address ("" when it has none).
func nodeIP(n *structs.Node) string {
	host, _, err := net.SplitHostPort(n.Address)
	if err != nil {
		return n.Address
	}
	return host
}
