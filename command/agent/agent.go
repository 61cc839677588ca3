package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/client"
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
	if a.server, err = server.NewServer(sc); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	a.http = httpapi.New(a.server, logger)
	if c.EnableDebug {
		a.http.EnableDebug()
	}
	if err := a.http.Start(sc.HTTPAddr()); err != nil {
		a.server.Shutdown()
		return nil, err
	}
	logger.Info("agent started", "name", sc.NodeName, "http", sc.HTTPAddr(), "raft", sc.RaftAddr(),
		"serf", a.server.SerfAddr(), "data_dir", sc.DataDir, "bootstrap_expect", sc.BootstrapExpect)
	if c.ClientEnabled() {
		if err := a.startClient(sc.HTTPAddr()); err != nil {
			a.Shutdown()
			return nil, fmt.Errorf("start client: %w", err)
		}
	}
	return a, nil
}

// startClient starts the client role against this agent's own API, which
// forwards to the leader.
func (a *Agent) startClient(httpAddr string) error {
	drivers, err := a.launchDrivers()
	if err != nil {
		return err
	}
	dir := filepath.Join(a.config.DataDir, "client")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	a.client, err = client.New(&client.Config{
		NodeName: a.config.Name, Datacenter: a.config.Datacenter, DataDir: dir,
		Server: httpAddr, Address: httpAddr, Drivers: drivers, Logger: a.logger,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.client.Start(ctx); err != nil {
		return err
	}
	a.http.SetLogSource(a.client)
	return nil
}

// Check reports config errors that parsing alone cannot.
func (c *Config) Check() error {
	switch {
	case !c.ServerEnabled() && c.ClientEnabled():
		return fmt.Errorf("client-only agents are not in this version yet: enable the server block too (the client uses the local server's API)")
	case !c.ServerEnabled():
		return fmt.Errorf("no role enabled: set server { enabled = true } or run with -dev")
	case c.Name == "":
		return fmt.Errorf("name must be set")
	case c.TLS != nil:
		return fmt.Errorf("tls: not supported in this version yet; remove the tls block")
	case c.ACL != nil && c.ACL.Enabled:
		return fmt.Errorf("acl: not supported in this version yet; remove the acl block")
	}
	return nil
}

// Leave leaves the cluster gracefully, then shuts down.
func (a *Agent) Leave() {
	if err := a.server.Leave(); err != nil {
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
	a.http.Shutdown()
	a.server.Shutdown()
	if a.tempDir != "" {
		os.RemoveAll(a.tempDir)
	}
}
