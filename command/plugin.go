package command

import (
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	driverplugin "github.com/mk-orchestrator/mk/drivers/plugin"
)

// pluginDrivers are the drivers `mk plugin NAME` can serve.
var pluginDrivers = map[string]func(hclog.Logger) drivers.Driver{
	exec.Name:    func(l hclog.Logger) drivers.Driver { return exec.New(l) },
	exec.RawName: func(l hclog.Logger) drivers.Driver { return exec.New(l, exec.Raw()) },
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
	driverplugin.Serve(factory(logger), logger)
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
