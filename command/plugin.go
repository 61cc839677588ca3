package command

import (
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/docker"
	"github.com/mk-orchestrator/mk/drivers/exec"
	driverplugin "github.com/mk-orchestrator/mk/drivers/plugin"
	"github.com/mk-orchestrator/mk/drivers/slurm"
)

// pluginDrivers are the drivers `mk plugin NAME` can serve.
var pluginDrivers = map[string]func(hclog.Logger) (drivers.Driver, error){
	exec.Name:    func(l hclog.Logger) (drivers.Driver, error) { return exec.New(l), nil },
	exec.RawName: func(l hclog.Logger) (drivers.Driver, error) { return exec.New(l, exec.Raw()), nil },
	docker.Name:  newDockerDriver,
	slurm.Name:   newSlurmDriver,
}

// newSlurmDriver is the gpu-slurm driver with the client's config, which
// the agent passes in the plugin's environment.
func newSlurmDriver(l hclog.Logger) (drivers.Driver, error) {
	cfg, err := slurm.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return slurm.New(l, cfg), nil
}

// newDockerDriver is the docker driver with the client's config, which
// the agent passes in the plugin's environment.
func newDockerDriver(l hclog.Logger) (drivers.Driver, error) {
	cfg, err := docker.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return docker.New(l, cfg)
}

// PluginCommand is `mk plugin NAME`: it serves a driver as a go-plugin
// plugin on stdio. The client agent runs it; people do not.
// `mk plugin exec-waiter` is the exec driver's per-task waiter, which the
// driver starts for each task (see drivers/exec).
type PluginCommand struct{ Meta }

// Help describes the command.
func (c *PluginCommand) Help() string {
	return `Usage: mk plugin <driver>

  Serves a task driver as a plugin over stdio. The client agent starts this
  command itself; running it by hand only prints a notice.

  Drivers: ` + strings.Join(pluginNames(), ", ") + `

  ` + exec.WaiterCommand + ` is the exec driver's waiter, the parent of each
  exec task; the driver starts it.`
}

// Synopsis is the one-line description.
func (c *PluginCommand) Synopsis() string { return "Serve a task driver as a plugin (internal)" }

// Run serves the driver named by args[0] until the host goes away.
func (c *PluginCommand) Run(args []string) int {
	if len(args) != 1 {
		c.Ui.Error(c.Help())
		return exitError
	}
	if args[0] == exec.WaiterCommand {
		// The driver's waiters are caught before main (drivers/exec's
		// internal/waiter); what gets here was typed by hand.
		return exec.WaiterMain()
	}
	factory, ok := pluginDrivers[args[0]]
	if !ok {
		c.Ui.Error("Error: unknown driver " + args[0] + "; known: " + strings.Join(pluginNames(), ", "))
		return exitError
	}
	logger := driverplugin.PluginLogger("driver." + args[0])
	d, err := factory(logger)
	if err != nil {
		c.Ui.Error("Error: driver " + args[0] + ": " + err.Error())
		return exitError
	}
	driverplugin.Serve(d, logger)
	return exitOK
}

func pluginNames() []string {
	names := make([]string, 0, len(pluginDrivers))
	for n := range pluginDrivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
