package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// L2Net is one L2 segment for tests whose hosts route each other's pod
// subnets (host-gw needs the next hop on the same link): a bridge in a
// network namespace of its own (the switch), the test's namespace
// attached at the subnet's first address, and each host attached as it
// is added. Everything is removed at the end of the test, even when it
// fails.
type L2Net struct {
	// Switch is the namespace that holds the bridge.
	Switch string
	// Gateway is the test namespace's address on the segment; hosts are
	// 10.210.<k>.<10+i>.
	Gateway string
	k       int
	t       testing.TB
}

// NewL2Net makes segment k (1–250) of the test: 10.210.<k>.0/24.
func NewL2Net(t testing.TB, k int) *L2Net {
	t.Helper()
	id := os.Getpid() % 10000
	n := &L2Net{Switch: fmt.Sprintf("mk%d-sw%d", os.Getpid(), k), Gateway: fmt.Sprintf("10.210.%d.1", k), k: k, t: t}
	up := fmt.Sprintf("mks%d-%d", id, k)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", up).Run()
		_ = exec.Command("ip", "netns", "del", n.Switch).Run()
	})
	ipCmd(t, "netns", "add", n.Switch)
	ipCmd(t, "-n", n.Switch, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", n.Switch, "link", "set", "br0", "up")
	ipCmd(t, "link", "add", up, "type", "veth", "peer", "name", up+"p")
	ipCmd(t, "link", "set", up+"p", "netns", n.Switch)
	ipCmd(t, "-n", n.Switch, "link", "set", up+"p", "master", "br0", "up")
	ipCmd(t, "addr", "add", n.Gateway+"/24", "dev", up)
	ipCmd(t, "link", "set", up, "up")
	return n
}

// AddHost attaches host i (1–200): namespace mk<pid>-l<k>-<i> with eth0
// at 10.210.<k>.<10+i>/24 and its default route via the test namespace.
// Partition and Heal cut and restore its port on the switch.
func (n *L2Net) AddHost(i int) *Host {
	t := n.t
	t.Helper()
	h := &Host{NS: fmt.Sprintf("mk%d-l%d-%d", os.Getpid(), n.k, i), IP: fmt.Sprintf("10.210.%d.%d", n.k, 10+i),
		Gateway: n.Gateway, veth: fmt.Sprintf("mkh%d-%d-%d", os.Getpid()%10000, n.k, i), linkNS: n.Switch, t: t}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", h.NS).Run() })
	ipCmd(t, "netns", "add", h.NS)
	ipCmd(t, "-n", n.Switch, "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	ipCmd(t, "-n", n.Switch, "link", "set", h.veth, "master", "br0", "up")
	ipCmd(t, "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
	ipCmd(t, "-n", h.NS, "link", "set", "eth0", "up")
	ipCmd(t, "-n", h.NS, "link", "set", "lo", "up")
	ipCmd(t, "-n", h.NS, "route", "add", "default", "via", n.Gateway)
	return h
}
