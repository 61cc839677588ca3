package command

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/command/agent"
)

// AgentCommand runs an mk agent.
type AgentCommand struct{ Meta }

func (c *AgentCommand) Synopsis() string { return "Run an mk agent: a server, a client or both" }

func (c *AgentCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk agent [options]

  Runs an mk agent with the roles its config enables. -dev runs a single
  server on 127.0.0.1 with data in a temporary directory, bootstrapped and
  ready in seconds.

  SIGINT or SIGTERM leaves the cluster gracefully and stops the agent.

Options:
  -dev                 Development mode: one bootstrapped server on 127.0.0.1.
  -config FILE         Agent config file (HCL); may repeat, later files win.
  -name NAME           Node name (default: the host name).
  -data-dir DIR        Data directory.
  -bind ADDR           Address to bind (default 127.0.0.1).
  -server              Enable the server role.
  -bootstrap-expect N  Servers to wait for before bootstrapping.
  -retry-join ADDR     Serf address (host:port) to join; may repeat.
  -log-level LEVEL     trace, debug, info, warn or error (default info).
`)
}

func (c *AgentCommand) Run(args []string) int {
	fs := c.FlagSet("agent", false)
	var configs, joins stringSlice
	flags := &agent.Config{Server: &agent.ServerConfig{}}
	dev := fs.Bool("dev", false, "")
	serverOn := fs.Bool("server", false, "")
	fs.Var(&configs, "config", "")
	fs.Var(&joins, "retry-join", "")
	fs.StringVar(&flags.Name, "name", "", "")
	fs.StringVar(&flags.DataDir, "data-dir", "", "")
	fs.StringVar(&flags.BindAddr, "bind", "", "")
	fs.StringVar(&flags.LogLevel, "log-level", "", "")
	fs.IntVar(&flags.Server.BootstrapExpect, "bootstrap-expect", 0, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 0 {
		return c.usageError("agent takes no arguments", c.Help())
	}
	flags.RetryJoin = joins
	if *serverOn {
		flags.Server.Enabled = serverOn
	}
	conf := defaultAgentConfig(*dev)
	for _, path := range configs {
		fc, err := agent.ParseConfigFile(path)
		if err != nil {
			return c.fail(err)
		}
		conf.Merge(fc)
	}
	conf.Merge(flags)
	if *dev && conf.DataDir != "" {
		c.Ui.Warn("-dev keeps its data in a temporary directory; -data-dir is ignored")
		conf.DataDir = ""
	}
	if !*dev && conf.DataDir == "" {
		return c.fail(errString("data_dir must be set (or run with -dev)"))
	}
	level := hclog.LevelFromString(conf.LogLevel)
	if level == hclog.NoLevel {
		return c.fail(errString("log_level: unknown level " + conf.LogLevel))
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "agent", Level: level, Output: os.Stderr})
	tuneGC(logger)
	a, err := agent.Start(conf, logger)
	if err != nil {
		return c.fail(err)
	}
	c.Ui.Output("==> mk agent running; stop it with Ctrl-C (it leaves the cluster gracefully)")
	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
	<-sigCh
	go func() {
		<-sigCh
		logger.Warn("second signal: exiting without a graceful leave")
		os.Exit(exitError)
	}()
	logger.Info("caught signal, leaving gracefully")
	a.Leave()
	return exitOK
}

func defaultAgentConfig(dev bool) *agent.Config {
	name, _ := os.Hostname()
	enabled := true
	c := &agent.Config{Name: name, Datacenter: "dc1", BindAddr: "127.0.0.1", LogLevel: "info",
		Ports: &agent.Ports{HTTP: 6646, Raft: 6647, Serf: 6648}}
	if dev {
		c.Server = &agent.ServerConfig{Enabled: &enabled, BootstrapExpect: 1}
		c.Client = &agent.ClientConfig{Enabled: &enabled, Ingress: &agent.ClientIngress{Enabled: &enabled}}
	}
	return c
}

type errString string

func (e errString) Error() string { return string(e) }
