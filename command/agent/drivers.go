package agent

import (
	"fmt"
	"os"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/plugin"
)

// launchDrivers starts the driver plugins the client config enables, each
// as `mk plugin <name>` in a subprocess under a supervisor that restarts it
// and recovers its tasks when it dies. exec is on unless disabled with
// driver "exec" { enabled = false }.
func (a *Agent) launchDrivers() (map[string]drivers.Driver, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the mk binary for driver plugins: %w", err)
	}
	out := map[string]drivers.Driver{}
	var sups []*plugin.Supervisor
	a.stopDrivers = func() {
		for _, s := range sups {
			s.Shutdown()
		}
	}
	if a.driverEnabled("exec", true) {
		sup, err := plugin.NewSupervisor(bin, "exec", a.logger.Named("plugin.exec"))
		if err != nil {
			return nil, fmt.Errorf("launch exec driver plugin: %w", err)
		}
		sups = append(sups, sup)
		out["exec"] = sup
	}
	return out, nil
}

// driverEnabled reads client.driver "name" { enabled = ... }.
func (a *Agent) driverEnabled(name string, def bool) bool {
	if a.config.Client == nil {
		return def
	}
	for _, d := range a.config.Client.Drivers {
		if d.Name == name && d.Enabled != nil {
			return *d.Enabled
		}
	}
	return def
}
