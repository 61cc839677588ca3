package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Host is a network namespace standing in for a machine: a veth pair
// links it to the test's namespace, where its gateway address lives, and
// its default route goes there. Partition cuts the link; Heal restores it.
type Host struct {
	// NS is the namespace's name, for `ip netns exec`.
	NS string
	// IP is the host's address; Gateway the test namespace's end.
	IP, Gateway string
	veth        string
	// linkNS is the namespace that holds veth, the host's end of its
	// link ("" for the test's own).
	linkNS string
	t      testing.TB
}

// NewHost makes host number i (1–250) of the test: namespace
// mk<pid>-<i>, 10.201.<i>.2/30 inside, 10.201.<i>.1/30 outside. Removed at
// the end of the test.
func NewHost(t testing.TB, i int) *Host {
	t.Helper()
	h := &Host{NS: fmt.Sprintf("mk%d-%d", os.Getpid(), i), IP: fmt.Sprintf("10.201.%d.2", i),
		Gateway: fmt.Sprintf("10.201.%d.1", i), veth: fmt.Sprintf("mkv%d-%d", os.Getpid()%10000, i), t: t}
	peer := h.veth + "p"
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", h.veth).Run()
		_ = exec.Command("ip", "netns", "del", h.NS).Run()
	})
	ipCmd(t, "netns", "add", h.NS)
	ipCmd(t, "link", "add", h.veth, "type", "veth", "peer", "name", peer)
	ipCmd(t, "link", "set", peer, "netns", h.NS)
	ipCmd(t, "addr", "add", h.Gateway+"/30", "dev", h.veth)
	ipCmd(t, "link", "set", h.veth, "up")
	ipCmd(t, "-n", h.NS, "addr", "add", h.IP+"/30", "dev", peer)
	ipCmd(t, "-n", h.NS, "link", "set", peer, "up")
	ipCmd(t, "-n", h.NS, "link", "set", "lo", "up")
	ipCmd(t, "-n", h.NS, "route", "add", "default", "via", h.Gateway)
	return h
}

// Partition cuts the host off the network: nothing goes in or out.
func (h *Host) Partition() { ipCmd(h.t, h.linkArgs("link", "set", h.veth, "down")...) }

// Heal reconnects a partitioned host.
func (h *Host) Heal() {
	ipCmd(h.t, h.linkArgs("link", "set", h.veth, "up")...)
	// Bringing the link down dropped the default route inside.
	_ = exec.Command("ip", "-n", h.NS, "route", "replace", "default", "via", h.Gateway).Run()
}

// LoopbackAddr adds ip/32 to the test namespace's loopback, an address
// every Host reaches through its gateway and that no partition takes
// down: servers bind to it. Removed at the end of the test.
func LoopbackAddr(t testing.TB, ip string) {
	t.Helper()
	ipCmd(t, "addr", "add", ip+"/32", "dev", "lo")
	t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run() })
}

// Forwarding turns on IPv4 forwarding in the test namespace, so Hosts
// reach each other through it; the old setting comes back at the end.
func Forwarding(t testing.TB) {
	t.Helper()
	const path = "/proc/sys/net/ipv4/ip_forward"
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatalf("enable forwarding: %v", err)
	}
	t.Cleanup(func() { _ = os.WriteFile(path, old, 0o644) })
}

// linkArgs runs an ip command in the namespace of the host's link.
func (h *Host) linkArgs(args ...string) []string {
	if h.linkNS == "" {
		return args
	}
	return append([]string{"-n", h.linkNS}, args...)
}

// Exec runs a command in the host's network namespace only (nsenter, not
// ip netns exec, which would remount /sys) and returns its combined
// output.
func (h *Host) Exec(name string, args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + h.NS, "--", name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
