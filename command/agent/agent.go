package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/hashicorp/serf/serf"

	"github.com/mk-orchestrator/mk/client"
	nodedns "github.com/mk-orchestrator/mk/client/dns"
	"github.com/mk-orchestrator/mk/client/ingress"
	"github.com/mk-orchestrator/mk/client/proxy"
	"github.com/mk-orchestrator/mk/server"
	"github.com/mk-orchestrator/mk/server/httpapi"
)

// Agent is a running mk agent.
type Agent struct {
	config *Config
	logger hclog.Logger
	server *server.Server
	http   *httpapi.HTTPServer
	client *client.Client
	// serf is a client-only agent's member of the gossip pool (a server's
	// is the server's own); stopJoin ends its join attempts.
	serf     *serf.Serf
	stopJoin chan struct{}
	// stopDrivers ends the driver plugins.
	stopDrivers func()
	// tempDir is removed at shutdown (dev mode's data dir).
	tempDir string
}

// Start checks the config and starts the roles it enables.
func Start(c *Config, logger hclog.Logger) (*Agent, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	a := &Agent{config: c, logger: logger}
	if c.DataDir == "" {
		dir, err := os.MkdirTemp("", "mk-dev-")
		if err != nil {
			return nil, err
		}
		c.DataDir, a.tempDir = dir, dir
	}
	sc, err := c.ToServerConfig()
	if err != nil {
		return nil, err
	}
	sc.Logger = logger
	if c.ServerEnabled() {
		err = a.startServer(sc)
	} else {
		err = a.startClientOnlyAPI(sc)
	}
	if err != nil {
		return nil, err
	}
	if c.ClientEnabled() {
		if err := a.startClient(sc.HTTPAddr()); err != nil {
			a.Shutdown()
			return nil, fmt.Errorf("start client: %w", err)
		}
	}
	if a.server == nil {
		if err := a.joinAsClient(sc); err != nil {
			a.Shutdown()
			return nil, err
		}
	}
	return a, nil
}

// startServer starts the server role and the full HTTP API.
func (a *Agent) startServer(sc *server.Config) error {
	var err error
	if a.server, err = server.NewServer(sc); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	a.http = httpapi.New(a.server, a.logger)
	if a.config.EnableDebug {
		a.http.EnableDebug()
	}
	if err := a.http.Start(sc.HTTPAddr()); err != nil {
		a.server.Shutdown()
		return err
	}
	a.logger.Info("agent started", "name", sc.NodeName, "http", sc.HTTPAddr(), "raft", sc.RaftAddr(),
		"serf", a.server.SerfAddr(), "data_dir", sc.DataDir, "bootstrap_expect", sc.BootstrapExpect)
	return nil
}

// startClient starts the client role against this agent's own API, which
// forwards to the leader (or, on a client-only agent, to the servers).
func (a *Agent) startClient(httpAddr string) error {
	drivers, err := a.launchDrivers()
	if err != nil {
		return err
	}
	dir := filepath.Join(a.config.DataDir, "client")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	netAddr, err := a.config.networkAddress()
	if err != nil {
		return err
	}
	fpInterval, err := a.config.Client.fingerprintInterval()
	if err != nil {
		return err
	}
	statsInterval, err := a.config.Client.statsInterval()
	if err != nil {
		return err
	}
	a.client, err = client.New(&client.Config{
		NodeName: a.config.Name, Datacenter: a.config.Datacenter, DataDir: dir,
		Server: httpAddr, Address: httpAddr, Drivers: drivers, Logger: a.logger,
		DynamicPorts:   a.config.Client.dynamicPorts(),
		NetworkAddress: netAddr, ProxyMode: a.config.Client.proxyMode(),
		FingerprintInterval: fpInterval,
		StatsInterval:       statsInterval,
		DNSUpstreams:        a.config.Client.dnsUpstreams(),
		IngressAddr:         a.config.Client.ingressAddr(),
	})
	if err != nil {
		return err
	}
	// Pod logs, exec and stats are answered from the client as soon as it
	// recovers pods.
	a.http.SetLocalPods(a.client)
	collectors := append(proxy.Collectors(), nodedns.Collectors()...)
	a.http.RegisterCollectors(append(collectors, ingress.Collectors()...)...)
	// With its own server the node registers within seconds. A client-only
	// agent may start before any server does: it waits for them (a signal
	// still stops it).
	ctx := context.Background()
	if a.config.ServerEnabled() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	if err := a.client.Start(ctx); err != nil {
		return err
	}
	if a.server != nil {
		// The leader links this agent's Serf member to its node.
		return a.server.SetClientNodeID(a.client.NodeID())
	}
	return nil
}

// Check reports config errors that parsing alone cannot.
func (c *Config) Check() error {
	switch {
	case !c.ServerEnabled() && !c.ClientEnabled():
		return fmt.Errorf("no role enabled: set server { enabled = true }, client { enabled = true }, or run with -dev")
	case !c.ServerEnabled() && len(c.Client.Servers) == 0:
		return fmt.Errorf("client.servers: a client-only agent needs the HTTP addresses of the servers (\"10.0.0.1:6646\")")
	case c.Name == "":
		return fmt.Errorf("name must be set")
	case c.TLS != nil:
		return fmt.Errorf("tls: not supported in this version yet; remove the tls block")
	case c.ACL != nil && c.ACL.Enabled:
		return fmt.Errorf("acl: not supported in this version yet; remove the acl block")
	}
	if err := c.Client.checkPorts(); err != nil {
		return err
	}
	if _, err := c.Client.fingerprintInterval(); err != nil {
		return err
	}
	if err := c.Client.checkIngress(); err != nil {
		return err
	}
	if _, err := c.Client.statsInterval(); err != nil {
		return err
	}
	return c.Client.checkNetwork()
}

// Leave leaves the cluster gracefully, then shuts down.
func (a *Agent) Leave() {
	var err error
	if a.server != nil {
		err = a.server.Leave()
	} else if a.serf != nil {
		err = a.serf.Leave()
	}
	if err != nil {
		a.logger.Warn("leave", "error", err)
	}
	a.Shutdown()
}

// Shutdown stops the agent without leaving. Tasks keep running: a client
// started again on the same data_dir reattaches to them.
func (a *Agent) Shutdown() {
	if a.client != nil {
		if a.tempDir != "" {
			a.client.Destroy() // dev mode: its tasks cannot outlive it
		} else {
			a.client.Shutdown()
		}
	}
	if a.stopDrivers != nil {
		a.stopDrivers()
	}
	if a.http != nil {
		a.http.Shutdown()
	}
	if a.server != nil {
		a.server.Shutdown()
	}
	if a.serf != nil {
		close(a.stopJoin)
		_ = a.serf.Shutdown()
	}
	if a.tempDir != "" {
		os.RemoveAll(a.tempDir)
	}
}
