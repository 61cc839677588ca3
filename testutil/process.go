package testutil

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Agent is an `mk agent` process started from the built binary.
type Agent struct {
	Name     string
	Dir      string
	Config   string
	HTTPAddr string
	RaftAddr string
	LogPath  string
	cmd      *exec.Cmd
	bin      string
	cluster  *ProcessCluster
	// clientOnly agents have no Raft: they are ready when they answer.
	clientOnly bool
	// NetNS is the network namespace the agent runs in ("" for the
	// test's own).
	NetNS string
}

// Addr is the agent's HTTP API base URL.
func (a *Agent) Addr() string { return "http://" + a.HTTPAddr }

// ProcessCluster is a set of server agents running as real processes on
// loopback, each from its own config file.
type ProcessCluster struct {
	t      testing.TB
	Agents []*Agent
}

// MkBinary returns the path of the built mk binary (bin/mk at the module
// root, or MK_BIN), failing the test when it is missing.
func MkBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MK_BIN"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			bin := filepath.Join(dir, "bin", "mk")
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("%s not found: run `make build` first (make test does)", bin)
			}
			return bin
		}
	}
	t.Fatal("module root not found")
	return ""
}

// NewProcessCluster writes n agent config files and starts the agents,
// waiting for a leader.
func NewProcessCluster(t testing.TB, n int) *ProcessCluster {
	t.Helper()
	return NewProcessClusterAt(t, n, "127.0.0.1")
}

// NewProcessClusterAt is NewProcessCluster with the servers bound to ip
// (one the test's network namespaces can reach).
func NewProcessClusterAt(t testing.TB, n int, ip string) *ProcessCluster {
	t.Helper()
	return newProcessCluster(t, n, ip, "")
}

// NewServerOnHost starts one server agent inside host h's network
// namespace, bound to its address, as a server machine of a multi-host
// test; the test's namespace reaches it through h's link. serverConfig
// are lines added to its server block (heartbeat_ttl = "2s").
func NewServerOnHost(t testing.TB, h *Host, serverConfig ...string) *ProcessCluster {
	t.Helper()
	return newProcessCluster(t, 1, h.IP, h.NS, serverConfig...)
}

func newProcessCluster(t testing.TB, n int, ip, netns string, serverConfig ...string) *ProcessCluster {
	t.Helper()
	bin := MkBinary(t)
	c := &ProcessCluster{t: t}
	var joins []string
	type ports struct{ http, raft, serf int }
	var all []ports
	for i := 0; i < n; i++ {
		p := ports{FreePort(t), FreePort(t), FreePort(t)}
		all = append(all, p)
		joins = append(joins, fmt.Sprintf("%q", fmt.Sprintf("%s:%d", ip, p.serf)))
	}
	for i, p := range all {
		dir := t.TempDir()
		a := &Agent{Name: fmt.Sprintf("server-%d", i+1), Dir: dir, bin: bin,
			HTTPAddr: fmt.Sprintf("%s:%d", ip, p.http), RaftAddr: fmt.Sprintf("%s:%d", ip, p.raft),
			Config: filepath.Join(dir, "agent.hcl"), LogPath: filepath.Join(dir, "agent.log"), NetNS: netns}
		conf := fmt.Sprintf(`name      = %q
data_dir  = %q
bind_addr = %q
log_level = "warn"
enable_debug = true
ports {
  http = %d
  raft = %d
  serf = %d
}
server {
  enabled          = true
  bootstrap_expect = %d
%s}
retry_join = [%s]
`, a.Name, filepath.Join(dir, "data"), ip, p.http, p.raft, p.serf, n, serverLines(serverConfig), strings.Join(joins, ", "))
		if err := os.WriteFile(a.Config, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Agents = append(c.Agents, a)
		c.Start(i)
	}
	t.Cleanup(c.Shutdown)
	c.WaitForLeader(30 * time.Second)
	return c
}

// serverLines indents lines for the server block, one a line.
func serverLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// Start starts agent i (again).
func (c *ProcessCluster) Start(i int) {
	c.t.Helper()
	a := c.Agents[i]
	logf, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	a.cmd = exec.Command(a.bin, "agent", "-config", a.Config)
	if a.NetNS != "" {
		// nsenter enters only the network namespace (ip netns exec would
		// also remount /sys, hiding the cgroup file systems) and execs
		// the agent in place: the PID stays the agent's.
		a.cmd = exec.Command("nsenter", "--net=/run/netns/"+a.NetNS, "--", a.bin, "agent", "-config", a.Config)
	}
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", a.Name, err)
	}
	logf.Close()
}

// Kill sends SIGKILL to agent i and waits for it to exit.
func (c *ProcessCluster) Kill(i int) { c.signal(i, syscall.SIGKILL) }

// Stop sends SIGTERM (graceful leave) to agent i and waits for it.
func (c *ProcessCluster) Stop(i int) { c.signal(i, syscall.SIGTERM) }

func (c *ProcessCluster) signal(i int, sig syscall.Signal) {
	a := c.Agents[i]
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Signal(sig)
	_ = a.cmd.Wait()
	a.cmd = nil
}

// Shutdown kills every agent.
func (c *ProcessCluster) Shutdown() {
	for i := range c.Agents {
		c.Kill(i)
	}
}

// WaitForLeader waits until an agent reports a leader through a consistent
// read, and returns the index of the leading agent.
func (c *ProcessCluster) WaitForLeader(deadline time.Duration) int {
	c.t.Helper()
	leader := -1
	WaitFor(c.t, deadline, func() (bool, error) {
		for i, a := range c.Agents {
			if a.cmd == nil {
				continue
			}
			var addr string
			if err := getJSON(a.Addr()+"/v1/status/leader", &addr); err != nil {
				return false, err
			}
			for j, b := range c.Agents {
				if b.RaftAddr == addr && b.cmd != nil {
					leader = j
				}
			}
			if leader < 0 {
				return false, fmt.Errorf("agent %d sees leader %q", i, addr)
			}
			// A consistent read proves the leader is ready.
			var jobs []any
			return getJSON(c.Agents[leader].Addr()+"/v1/jobs", &jobs) == nil, nil
		}
		return false, fmt.Errorf("no agent running")
	})
	return leader
}

func getJSON(url string, out any) error {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// StartDevAgent starts the built binary as `mk agent -dev` (server and
// client, exec driver plugin) on free ports, waits until it answers, and
// stops it (SIGTERM: its pods stop too) when the test ends. It returns the
// API address and the agent's PID. extraConfig is HCL added to its config
// file (a client block replaces -dev's: set enabled = true in it).
func StartDevAgent(t testing.TB, extraConfig ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	http, raft, serf := FreePort(t), FreePort(t), FreePort(t)
	conf := filepath.Join(dir, "ports.hcl")
	src := fmt.Sprintf("ports {\n  http = %d\n  raft = %d\n  serf = %d\n}\n", http, raft, serf) + strings.Join(extraConfig, "\n")
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(MkBinary(t), "agent", "-dev", "-name", "dev-1", "-config", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
		logf.Close()
		if t.Failed() {
			logTail(t, logf.Name(), 60)
		}
	})
	addr := fmt.Sprintf("http://127.0.0.1:%d", http)
	WaitFor(t, 20*time.Second, func() (bool, error) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("agent exited (%v):\n%s", err, log)
		default:
		}
		var jobs []any
		err := getJSON(addr+"/v1/jobs", &jobs)
		return err == nil, err
	})
	return addr, cmd.Process.Pid
}

// NewClientAgent writes the config of a single agent that is both server
// (bootstrap_expect = 1) and client, with its data under a test dir, and
// starts it. Unlike -dev, its data outlives the process, so tests can kill
// it with SIGKILL and start it again. Stop it with Kill, Stop or at the end
// of the test (which also stops its pods: SIGTERM). clientExtra is HCL
// added to its client block (driver blocks).
func NewClientAgent(t testing.TB, name string, clientExtra ...string) *Agent {
	t.Helper()
	dir := t.TempDir()
	a := &Agent{Name: name, Dir: dir, bin: MkBinary(t), Config: filepath.Join(dir, "agent.hcl"), LogPath: filepath.Join(dir, "agent.log")}
	http, raft, serf := FreePort(t), FreePort(t), FreePort(t)
	a.HTTPAddr, a.RaftAddr = fmt.Sprintf("127.0.0.1:%d", http), fmt.Sprintf("127.0.0.1:%d", raft)
	conf := fmt.Sprintf(`name      = %q
data_dir  = %q
bind_addr = "127.0.0.1"
log_level = "info"
ports {
  http = %d
  raft = %d
  serf = %d
}
server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled = true
  %s
}
`, name, filepath.Join(dir, "data"), http, raft, serf, strings.Join(clientExtra, "\n  "))
	startLone(t, a, conf)
	a.cluster.WaitForLeader(30 * time.Second)
	return a
}

// startLone writes a single agent's config and starts it. At the end of
// the test it is stopped (SIGTERM) and its tasks killed: a stopped agent
// leaves them running, by design.
func startLone(t testing.TB, a *Agent, conf string) {
	t.Helper()
	if err := os.WriteFile(a.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &ProcessCluster{t: t, Agents: []*Agent{a}}
	a.cluster = c
	c.Start(0)
	t.Cleanup(func() {
		c.Stop(0)
		KillTasksUnder(a.Dir)
		UnmountUnder(a.Dir)
	})
}

// PID is the agent's process ID (0 when it is not running).
func (a *Agent) PID() int {
	if a.cmd == nil || a.cmd.Process == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// Kill sends SIGKILL to the agent and waits for it to exit.
func (a *Agent) Kill() { a.cluster.Kill(0) }

// Restart starts the agent again from its config and data dir and waits
// until it serves.
func (a *Agent) Restart() {
	a.cluster.Start(0)
	if a.clientOnly {
		a.waitServing(30 * time.Second)
		return
	}
	a.cluster.WaitForLeader(30 * time.Second)
}

// NewClientOnlyAgent starts an agent with only the client role, pointed at
// servers (HTTP host:port). It joins their gossip pool by itself, through
// the Serf addresses the servers publish. It is stopped (SIGTERM, which
// leaves its pods running) at the end of the test, and its tasks killed.
func NewClientOnlyAgent(t testing.TB, name string, servers ...string) *Agent {
	t.Helper()
	return StartClientOnly(t, ClientOnlyOptions{Name: name, Servers: servers})
}

// ClientOnlyOptions place a client-only agent.
type ClientOnlyOptions struct {
	Name    string
	Servers []string
	// BindAddr defaults to 127.0.0.1.
	BindAddr string
	// NetNS runs the agent in a network namespace (a Host's).
	NetNS string
	// ProxyMode is the client's network.proxy_mode ("": the default).
	ProxyMode string
	// DNSUpstreams is the client's network.dns_upstreams (nil: the
	// host's resolv.conf).
	DNSUpstreams []string
	// IngressPort runs the client's ingress proxy on that port of every
	// address (0: no ingress proxy).
	IngressPort int
}

// networkBlock is the client's network block for o ("" when o sets
// nothing of it).
func (o ClientOnlyOptions) networkBlock() string {
	var b strings.Builder
	if o.ProxyMode != "" {
		fmt.Fprintf(&b, "    proxy_mode = %q\n", o.ProxyMode)
	}
	if o.DNSUpstreams != nil {
		fmt.Fprintf(&b, "    dns_upstreams = [%s]\n", quoteAll(o.DNSUpstreams))
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n  network {\n" + b.String() + "  }"
}

// ingressBlock is the client's ingress block for o ("" for none).
func (o ClientOnlyOptions) ingressBlock() string {
	if o.IngressPort == 0 {
		return ""
	}
	return fmt.Sprintf("\n  ingress {\n    port = %d\n  }", o.IngressPort)
}

func quoteAll(l []string) string {
	quoted := make([]string, len(l))
	for i, s := range l {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(quoted, ", ")
}

// StartClientOnly is NewClientOnlyAgent with options.
func StartClientOnly(t testing.TB, o ClientOnlyOptions) *Agent {
	t.Helper()
	if o.BindAddr == "" {
		o.BindAddr = "127.0.0.1"
	}
	dir := t.TempDir()
	a := &Agent{Name: o.Name, Dir: dir, bin: MkBinary(t), Config: filepath.Join(dir, "agent.hcl"),
		LogPath: filepath.Join(dir, "agent.log"), clientOnly: true, NetNS: o.NetNS}
	http, serf := FreePort(t), FreePort(t)
	a.HTTPAddr = fmt.Sprintf("%s:%d", o.BindAddr, http)
	conf := fmt.Sprintf(`name      = %q
data_dir  = %q
bind_addr = %q
log_level = "info"
ports {
  http = %d
  serf = %d
}
client {
  enabled = true
  servers = [%s]%s%s
}
`, o.Name, filepath.Join(dir, "data"), o.BindAddr, http, serf, quoteAll(o.Servers), o.networkBlock(), o.ingressBlock())
	startLone(t, a, conf)
	a.waitServing(30 * time.Second)
	return a
}

// waitServing waits until the agent answers /v1/agent/self.
func (a *Agent) waitServing(deadline time.Duration) {
	t := a.cluster.t
	t.Helper()
	WaitFor(t, deadline, func() (bool, error) {
		var self map[string]any
		err := getJSON(a.Addr()+"/v1/agent/self", &self)
		return err == nil, err
	})
}

// logTail prints the last n lines of an agent's log into a failed test's
// output: its temporary directory is gone once the test ends.
func logTail(t testing.TB, path string, n int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	t.Logf("last lines of %s:\n%s", path, strings.Join(lines[max(len(lines)-n, 0):], "\n"))
}
