package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// The multi-host harness: one L2 segment (testutil.L2Net) with a server
// host and three client hosts, each a network namespace running its own
// `mk agent` process. The client agents are client-only, bound to their
// host's address (so it is their node's network address, where the other
// hosts route their pods), with the service proxy in the mode under test
// and the node DNS forwarding to a resolver the test runs in the server
// host, and the ingress proxy on ingressPort.

// ingressPort is where the client agents' ingress proxies listen.
const ingressPort = 8080

// netHost is a client host: its namespace, its agent and its node.
type netHost struct {
	*testutil.Host
	Agent  *testutil.Agent
	Name   string
	NodeID string
	// Gateway is the node's pod gateway, where its node DNS listens.
	Gateway string
}

// multiHost is the harness of one proxy mode.
type multiHost struct {
	Mode    string
	Server  *testutil.Host
	Clients []*netHost
	SrvAddr string // the server's API, http://host:port
	API     *api.Client
	// Resolver counts the queries the test's resolver in the server host
	// answered.
	Resolver *atomic.Int64
}

// resolverName is the name outside the cluster domain that the test's
// resolver answers, with resolverAnswer.
const (
	resolverName   = "outside.example."
	resolverAnswer = "192.0.2.53"
)

// newMultiHost builds segment k (10.210.<k>.0/24): the server host
// (host 0, 10.210.<k>.10) and client hosts client-1..3 (10.210.<k>.11-13).
// Everything it makes is removed at the end of the test, which then
// checks that nothing it made is left. serverConfig are lines of the
// server agent's server block.
func newMultiHost(t *testing.T, mode string, k int, serverConfig ...string) *multiHost {
	t.Helper()
	m := &multiHost{Mode: mode, Resolver: &atomic.Int64{}}
	var agentDirs []string
	// Registered first, so it runs last: after the agents are killed and
	// the namespaces deleted.
	t.Cleanup(func() { checkNothingLeft(t, k, agentDirs) })

	l2 := testutil.NewL2Net(t, k)
	m.Server = l2.AddHost(0)
	clientHosts := []*testutil.Host{l2.AddHost(1), l2.AddHost(2), l2.AddHost(3)}
	startResolver(t, m.Server, m.Resolver)

	servers := testutil.NewServerOnHost(t, m.Server, serverConfig...)
	agentDirs = append(agentDirs, servers.Agents[0].Dir)
	m.SrvAddr = servers.Agents[0].Addr()
	m.API = clientAt(t, m.SrvAddr)
	for i, h := range clientHosts {
		name := fmt.Sprintf("client-%d", i+1)
		a := testutil.StartClientOnly(t, testutil.ClientOnlyOptions{Name: name, Servers: []string{servers.Agents[0].HTTPAddr},
			BindAddr: h.IP, NetNS: h.NS, ProxyMode: mode, DNSUpstreams: []string{m.Server.IP + ":53"}, IngressPort: ingressPort})
		agentDirs = append(agentDirs, a.Dir)
		m.Clients = append(m.Clients, &netHost{Host: h, Agent: a, Name: name})
	}
	ids := waitReadyNodes(t, m.API, len(m.Clients))
	for _, c := range m.Clients {
		c.NodeID = ids[c.Name]
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			n, err := m.API.Node(c.NodeID, nil)
			if err != nil {
				return false, err
			}
			if n.PodCIDR == "" || n.NetworkAddress != c.IP {
				return false, fmt.Errorf("node %s: pod CIDR %q, network address %q (want %s)", c.Name, n.PodCIDR, n.NetworkAddress, c.IP)
			}
			ip, _, err := net.ParseCIDR(n.PodCIDR)
			if err != nil {
				return false, err
			}
			gw := ip.To4()
			gw[3]++
			c.Gateway = gw.String()
			return true, nil
		})
		// The proxy's first (full) sync, in the mode under test.
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			n, err := proxySyncs(c.Agent, mode, "full")
			return n >= 1, fmt.Errorf("%s: %d full proxy syncs in %s mode (%v)", c.Name, n, mode, err)
		})
	}
	return m
}

// checkNothingLeft fails the test when anything the harness made is
// still there: its namespaces, its link in the test's namespace, a pod
// namespace still mounted under an agent's directory, a task still
// running.
func checkNothingLeft(t *testing.T, k int, agentDirs []string) {
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Errorf("ip netns list: %v: %s", err, out)
	}
	for _, prefix := range []string{fmt.Sprintf("mk%d-l%d-", os.Getpid(), k), fmt.Sprintf("mk%d-sw%d", os.Getpid(), k)} {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, prefix) {
				t.Errorf("namespace left behind: %s", line)
			}
		}
	}
	link := fmt.Sprintf("mks%d-%d", os.Getpid()%10000, k)
	if _, err := net.InterfaceByName(link); err == nil {
		t.Errorf("link %s left behind", link)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, dir := range agentDirs {
		if strings.Contains(string(mounts), " "+dir+"/") {
			t.Errorf("mounts left under %s", dir)
		}
		for _, p := range testutil.Procs() {
			for _, kv := range p.Environ {
				if strings.HasPrefix(kv, "MK_TASK_DIR="+dir) {
					t.Errorf("task %d of %s still runs", p.PID, dir)
				}
			}
		}
	}
	routes, _ := exec.Command("ip", "route").CombinedOutput()
	if prefix := fmt.Sprintf("10.210.%d.", k); strings.Contains(string(routes), prefix) {
		t.Errorf("route to %s0/24 left in the test's namespace:\n%s", prefix, routes)
	}
}

// startResolver answers resolverName with resolverAnswer (and NXDOMAIN
// otherwise) on port 53 of the host, UDP, until the test ends.
func startResolver(t *testing.T, h *testutil.Host, count *atomic.Int64) {
	t.Helper()
	var pc net.PacketConn
	err := inNetNS(h.NS, func() (err error) {
		pc, err = net.ListenPacket("udp4", net.JoinHostPort(h.IP, "53"))
		return err
	})
	if err != nil {
		t.Fatalf("resolver in %s: %v", h.NS, err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		count.Add(1)
		m := new(mdns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 && strings.EqualFold(r.Question[0].Name, resolverName) && r.Question[0].Qtype == mdns.TypeA {
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: resolverName, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
				A: net.ParseIP(resolverAnswer).To4()}}
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
}

// inNetNS runs fn on a thread in the network namespace named ns: sockets
// fn opens belong to that namespace for good.
func inNetNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() {
		// A thread that cannot go back stays locked: it ends with its
		// goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// dialIn connects to addr (tcp) from the network namespace ns.
func dialIn(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	err := inNetNS(ns, func() (err error) {
		conn, err = net.DialTimeout("tcp4", addr, timeout)
		return err
	})
	return conn, err
}

// getIn GETs url from the network namespace ns, on a new connection,
// and returns the body without its trailing newline.
func getIn(ns, url string) (string, error) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ns, addr, 5*time.Second)
		},
	}}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// proxySyncs is the agent's count of proxy syncs of a kind (full,
// partial) in mode, from its /v1/metrics.
func proxySyncs(a *testutil.Agent, mode, kind string) (int, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(a.Addr() + "/v1/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	want := fmt.Sprintf(`mk_proxy_sync_seconds_count{kind=%q,mode=%q} `, kind, mode)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, sc.Err()
}

// podExec runs a command in a task of a pod through the servers and
// returns its output; a non-zero exit fails the test.
func (m *multiHost) podExec(t *testing.T, podID, task string, cmd ...string) string {
	t.Helper()
	out, errOut, code := runMk(t, m.SrvAddr, append([]string{"pod", "exec", "-task", task, podID, "--"}, cmd...)...)
	if code != 0 {
		t.Fatalf("pod exec %s %q: exit %d\n%s%s", podID, cmd, code, out, errOut)
	}
	return out
}

// runJobFile runs an HCL job with mk job run, which waits until its pods
// are healthy.
func (m *multiHost) runJobFile(t *testing.T, name, src string) {
	t.Helper()
	if out, errOut, code := runMk(t, m.SrvAddr, "job", "run", writeJob(t, name+".hcl", src)); code != 0 {
		t.Fatalf("job run %s: exit %d\n%s%s", name, code, out, errOut)
	}
}

// podsOn maps node name to the job's running pods with an IP.
func (m *multiHost) podsOn(t *testing.T, job string, want int) map[string]*structs.Pod {
	t.Helper()
	pods := waitPods(t, m.API, job, want, func(p *structs.Pod) bool { return running(p) && p.IP != "" })
	out := map[string]*structs.Pod{}
	for _, p := range pods {
		out[p.NodeName] = p
	}
	return out
}

// client is the client host named name.
func (m *multiHost) client(name string) *netHost {
	for _, c := range m.Clients {
		if c.Name == name {
			return c
		}
	}
	panic("no client host " + name)
}
