package agent

import (
	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
)

// launchDrivers starts the drivers the client config enables. exec is
// always on (unless disabled with driver "exec" { enabled = false }).
func (a *Agent) launchDrivers() (map[string]drivers.Driver, error) {
	out := map[string]drivers.Driver{}
	if a.driverEnabled("exec", true) {
		out["exec"] = exec.New(a.logger.Named("driver.exec"))
	}
	a.stopDrivers = func() {}
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
