package testutil

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/httpapi"
)

// Node is one in-process server of a test cluster with its HTTP API.
type Node struct {
	Config *server.Config
	Server *server.Server
	HTTP   *httpapi.HTTPServer
}

// Addr is the node's HTTP API base URL.
func (n *Node) Addr() string { return "http://" + n.Config.HTTPAddr() }

// Alive reports whether the node is running.
func (n *Node) Alive() bool { return n.Server != nil }

// Cluster is a set of in-process servers on loopback, each with its own
// ports and data dir, joined through Serf and bootstrapped with
// bootstrap_expect exactly as real agents are.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// ClusterOptions tune a test cluster.
type ClusterOptions struct {
	// Configure may change each server's config before it starts.
	Configure func(i int, c *server.Config)
}

// NewCluster starts n servers and waits for a leader.
func NewCluster(t testing.TB, n int, opts ClusterOptions) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	var serfAddrs []string
	for i := 0; i < n; i++ {
		cfg := server.DefaultConfig()
		cfg.NodeName = fmt.Sprintf("server-%d", i+1)
		cfg.DataDir = t.TempDir()
		cfg.HTTPPort, cfg.RaftPort, cfg.SerfPort = FreePort(t), FreePort(t), FreePort(t)
		cfg.BootstrapExpect = n
		cfg.RetryJoinInterval = 200 * time.Millisecond
		cfg.Logger = testLogger(t, cfg.NodeName)
		serfAddrs = append(serfAddrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.SerfPort)))
		if opts.Configure != nil {
			opts.Configure(i, cfg)
		}
		c.Nodes = append(c.Nodes, &Node{Config: cfg})
	}
	for _, node := range c.Nodes {
		node.Config.RetryJoin = serfAddrs
		c.start(node)
	}
	t.Cleanup(c.Shutdown)
	c.WaitForLeader(30 * time.Second)
	return c
}

func testLogger(t testing.TB, name string) hclog.Logger {
	level := hclog.Warn
	if os.Getenv("MK_TEST_LOG") != "" {
		level = hclog.LevelFromString(os.Getenv("MK_TEST_LOG"))
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr})
}

func (c *Cluster) start(n *Node) {
	c.t.Helper()
	srv, err := server.NewServer(n.Config)
	if err != nil {
		c.t.Fatalf("start %s: %v", n.Config.NodeName, err)
	}
	h := httpapi.New(srv, n.Config.Logger)
	if err := h.Start(n.Config.HTTPAddr()); err != nil {
		srv.Shutdown()
		c.t.Fatalf("start http of %s: %v", n.Config.NodeName, err)
	}
	n.Server, n.HTTP = srv, h
}

// Kill stops node i abruptly, as a crash: no leave, data dir kept.
func (c *Cluster) Kill(i int) {
	n := c.Nodes[i]
	if n.Server == nil {
		return
	}
	n.HTTP.Shutdown()
	n.Server.Shutdown()
	n.Server, n.HTTP = nil, nil
}

// Restart starts a killed node again on the same ports and data dir.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.start(c.Nodes[i])
}

// Shutdown kills every node.
func (c *Cluster) Shutdown() {
	for i := range c.Nodes {
		c.Kill(i)
	}
}

// Leader returns the index of the node that is leader, or -1.
func (c *Cluster) Leader() int {
	for i, n := range c.Nodes {
		if n.Server != nil && n.Server.IsLeader() {
			return i
		}
	}
	return -1
}

// WaitForLeader waits until some alive node leads and is ready to serve
// consistent reads, and returns its index.
func (c *Cluster) WaitForLeader(deadline time.Duration) int {
	c.t.Helper()
	leader := -1
	WaitFor(c.t, deadline, func() (bool, error) {
		leader = c.Leader()
		if leader < 0 {
			return false, fmt.Errorf("no leader")
		}
		if err := c.Nodes[leader].Server.ConsistentRead(); err != nil {
			return false, err
		}
		return true, nil
	})
	return leader
}

// Alive returns the indexes of running nodes.
func (c *Cluster) Alive() []int {
	var out []int
	for i, n := range c.Nodes {
		if n.Server != nil {
			out = append(out, i)
		}
	}
	return out
}
