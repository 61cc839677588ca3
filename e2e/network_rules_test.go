package e2e

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// Helpers of the multi-host tests: DNS queries, the rules of mk and of
// "another program" on a host, and the agent restart under a live
// connection.

// dig queries the client host's node DNS from inside the host.
func dig(t *testing.T, c *netHost, args ...string) string {
	t.Helper()
	out, err := c.Exec("dig", append([]string{"@" + c.Gateway, "+time=3", "+tries=2"}, args...)...)
	if err != nil {
		t.Errorf("%s: dig %q: %v\n%s", c.Name, args, err, out)
	}
	return strings.TrimSpace(out)
}

// addForeignRules adds rules of "another program" to the client host:
// a chain and rules in the iptables nat and filter tables, and an
// nftables table of its own.
func addForeignRules(t *testing.T, c *netHost) {
	t.Helper()
	for _, cmd := range [][]string{
		{"iptables", "-t", "nat", "-N", "OTHER-PROG"},
		{"iptables", "-t", "nat", "-A", "OTHER-PROG", "-d", "192.0.2.1/32", "-j", "RETURN"},
		{"iptables", "-t", "nat", "-I", "PREROUTING", "-m", "comment", "--comment", "other-prog", "-j", "OTHER-PROG"},
		{"iptables", "-t", "filter", "-A", "INPUT", "-s", "192.0.2.2/32", "-m", "comment", "--comment", "other-prog", "-j", "ACCEPT"},
		{"nft", "add", "table", "ip", "otherprog"},
		{"nft", "add", "chain", "ip", "otherprog", "in", "{ type filter hook input priority 10; policy accept; }"},
		{"nft", "add", "rule", "ip", "otherprog", "in", "ip", "saddr", "192.0.2.3", "counter", "accept"},
	} {
		if out, err := c.Exec(cmd[0], cmd[1:]...); err != nil {
			t.Fatalf("%s: %q: %v\n%s", c.Name, cmd, err, out)
		}
	}
}

// checkForeignRules fails when a rule addForeignRules added is gone.
func checkForeignRules(t *testing.T, c *netHost) {
	t.Helper()
	ipt, err := c.Exec("iptables-save")
	if err != nil {
		t.Fatalf("%s: iptables-save: %v\n%s", c.Name, err, ipt)
	}
	for _, want := range []string{
		"-A OTHER-PROG -d 192.0.2.1/32 -j RETURN",
		`-A PREROUTING -m comment --comment other-prog -j OTHER-PROG`,
		`-A INPUT -s 192.0.2.2/32 -m comment --comment other-prog -j ACCEPT`,
	} {
		if !strings.Contains(ipt, want) {
			t.Errorf("%s: another program's rule %q is gone:\n%s", c.Name, want, ipt)
		}
	}
	nft, err := c.Exec("nft", "list", "table", "ip", "otherprog")
	if err != nil || !strings.Contains(nft, "ip saddr 192.0.2.3 counter") {
		t.Errorf("%s: another program's nftables table is gone or changed: %v\n%s", c.Name, err, nft)
	}
}

// dumpRules is what the proxy mode programs in the host: the iptables
// rules, or the nftables ruleset.
func dumpRules(t *testing.T, mode string, c *netHost) string {
	t.Helper()
	cmd := []string{"iptables-save"}
	if mode == "nftables" {
		cmd = []string{"nft", "list", "ruleset"}
	}
	out, err := c.Exec(cmd[0], cmd[1:]...)
	if err != nil {
		t.Fatalf("%s: %q: %v\n%s", c.Name, cmd, err, out)
	}
	return out
}

var (
	iptJump   = regexp.MustCompile(`-j (MK-(?:SVC|SEP|EXT|FW)-[A-Z0-9]+)`)
	nftTarget = regexp.MustCompile(`(?:jump|goto) ((?:svc|sep|ext|fw)-[A-Z0-9]+)`)
	// nftMapPick is a service chain's pick of an endpoint from an
	// endpoint map: n endpoints at keys offset..offset+n-1 of the map.
	nftMapPick = regexp.MustCompile(`numgen random mod (\d+)(?: offset (\d+))? map @([\w-]+)`)
)

// serviceRules are the chains of the service with ClusterIP cip and
// NodePort np on the host: those its ClusterIP and NodePort rules or map
// elements lead to, and the ones those lead to. It fails unless there is
// a service chain and, per ready endpoint, an endpoint chain (iptables)
// or a DNAT rule in the service chain (nftables).
func serviceRules(t *testing.T, mode string, c *netHost, cip string, np, ready int) []string {
	t.Helper()
	rules := dumpRules(t, mode, c)
	lines := strings.Split(rules, "\n")
	target := iptJump
	if mode == "nftables" {
		target = nftTarget
	}
	found := map[string]bool{}
	var queue []string
	add := func(line string) {
		for _, m := range target.FindAllStringSubmatch(line, -1) {
			if !found[m[1]] {
				found[m[1]] = true
				queue = append(queue, m[1])
			}
		}
	}
	for _, line := range lines {
		if strings.Contains(line, cip) || containsWord(line, strconv.Itoa(np)) {
			add(line)
		}
	}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, body := range chainBody(mode, lines, chain) {
			add(body)
		}
	}
	var out []string
	svcs, seps := 0, 0
	for name := range found {
		out = append(out, name)
		lower := strings.ToLower(name)
		switch {
		case strings.Contains(lower, "svc-"):
			svcs++
			if mode == "nftables" {
				for _, body := range chainBody(mode, lines, name) {
					switch m := nftMapPick.FindStringSubmatch(body); {
					case m != nil:
						seps += mapEndpoints(lines, m[3], m[1], m[2])
					case strings.Contains(body, "dnat to"):
						seps++
					}
				}
			}
		case strings.Contains(lower, "sep-"):
			seps++
		}
	}
	if svcs < 1 || seps != ready {
		t.Fatalf("%s: found chains %v for %s and NodePort %d, want a service chain and %d endpoints:\n%s", c.Name, out, cip, np, ready, rules)
	}
	return out
}

// mapEndpoints counts the elements of an nftables endpoint map in a dump
// whose keys are offset..offset+n-1 (offset "" is 0).
func mapEndpoints(lines []string, name, n, offset string) int {
	count, _ := strconv.Atoi(n)
	first, _ := strconv.Atoi(offset)
	found := 0
	for _, s := range nftBlock(lines, "map "+name) {
		for _, key := range mapKey.FindAllStringSubmatch(s, -1) {
			if k, _ := strconv.Atoi(key[1]); k >= first && k < first+count {
				found++
			}
		}
	}
	return found
}

// mapKey is a numeric key of a map element, "65536 : 10.42.1.5 . 8080".
var mapKey = regexp.MustCompile(`(?:^|[{,]\s*)(\d+) : `)

// chainBody is the rules of chain in a dump.
func chainBody(mode string, lines []string, chain string) []string {
	if mode == "nftables" {
		return nftBlock(lines, "chain "+chain)
	}
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "-A "+chain+" ") {
			out = append(out, l)
		}
	}
	return out
}

// nftBlock is the lines, trimmed, inside the block "header {" … "}" of
// an `nft list` dump.
func nftBlock(lines []string, header string) []string {
	var out []string
	in := false
	for _, l := range lines {
		s := strings.TrimSpace(l)
		switch {
		case s == header+" {":
			in = true
		case in && s == "}":
			return out
		case in:
			out = append(out, s)
		}
	}
	return out
}

// containsWord reports whether s holds w with no letter, digit or dash
// on either side.
func containsWord(s, w string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9-])` + regexp.QuoteMeta(w) + `($|[^A-Za-z0-9-])`).MatchString(s)
}

// testAgentRestart kills -9 and restarts the agent of client-3, which
// holds the service rules a connection to echo's ClusterIP went
// through, then that of client-1, which runs the echo pod: the
// connection keeps working throughout, and the pods of both keep their
// IPs and processes.
func testAgentRestart(t *testing.T, m *multiHost) {
	echo, err := m.API.Service(structs.DefaultNamespace, "echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEndpointsReady(t, m, "echo", 1)
	src := m.client("client-3")
	addr := net.JoinHostPort(echo.ClusterIP, strconv.Itoa(echo.Ports[0].Port))
	var conn net.Conn
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		var err error
		conn, err = dialIn(src.NS, addr, 5*time.Second)
		return err == nil, err
	})
	defer conn.Close()
	n := 0
	ping := func(when string) {
		t.Helper()
		n++
		msg := fmt.Sprintf("ping %d %s\n", n, when)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatalf("write %s: %v", when, err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %s: %q, %v; want %q", when, buf, err, msg)
		}
	}
	ping("before")
	for _, name := range []string{"client-3", "client-1"} {
		c := m.client(name)
		before := podsOfNode(t, m, c.NodeID)
		if len(before) == 0 {
			t.Fatalf("no pod on %s", name)
		}
		oldPID, killedAt := c.Agent.PID(), time.Now()
		c.Agent.Kill()
		ping("with the agent of " + name + " killed")
		c.Agent.Restart()
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			n, err := proxySyncs(c.Agent, m.Mode, "full")
			return n >= 1, fmt.Errorf("%s restarted: %d full proxy syncs (%v)", name, n, err)
		})
		t.Logf("agent of %s: pid %d killed, pid %d serving and synced %s later", name, oldPID, c.Agent.PID(), time.Since(killedAt).Round(time.Millisecond))
		ping("after " + name + " restarted and synced")
		// New connections go through the rules the restarted agent wrote.
		for _, h := range m.Clients {
			fresh, err := dialIn(h.NS, addr, 5*time.Second)
			if err != nil {
				t.Fatalf("new connection from %s to echo after %s restarted: %v", h.Name, name, err)
			}
			_ = fresh.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = fresh.Write([]byte("fresh\n"))
			buf := make([]byte, 6)
			if err == nil {
				_, err = io.ReadFull(fresh, buf)
			}
			fresh.Close()
			if err != nil || string(buf) != "fresh\n" {
				t.Errorf("new connection from %s to echo after %s restarted: %q, %v", h.Name, name, buf, err)
			}
		}
		after := podsOfNode(t, m, c.NodeID)
		for id, p := range before {
			q := after[id]
			switch {
			case q == nil:
				t.Errorf("pod %s of %s is gone after the restart", p.Name, name)
			case q.IP != p.IP || taskPIDs(q) != taskPIDs(p):
				t.Errorf("pod %s of %s: IP %s tasks %s before the restart, %s %s after", p.Name, name, p.IP, taskPIDs(p), q.IP, taskPIDs(q))
			}
		}
		// The pod's namespace still has its address.
		for _, p := range before {
			task := ""
			for tn := range p.TaskStates {
				task = tn
				break
			}
			if out := m.podExec(t, p.ID, task, "busybox", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, p.IP+"/24") {
				t.Errorf("pod %s: eth0 after the restart:\n%s", p.Name, out)
			}
		}
	}
}

// podsOfNode are the running pods of a node by ID.
func podsOfNode(t *testing.T, m *multiHost, nodeID string) map[string]*structs.Pod {
	t.Helper()
	pods, _, err := m.API.NodePods(t.Context(), nodeID, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*structs.Pod{}
	for _, p := range pods {
		if running(p) && p.IP != "" {
			out[p.ID] = p
		}
	}
	return out
}

// taskPIDs lists a pod's tasks with their PIDs, sorted by name.
func taskPIDs(p *structs.Pod) string {
	var out []string
	for name, ts := range p.TaskStates {
		out = append(out, fmt.Sprintf("%s=%d", name, ts.PID))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
