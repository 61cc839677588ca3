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
// driver "exec" { enabled = false }; raw_exec (exec without isolation) is
// off unless enabled with driver "raw_exec" { enabled = true }.
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
	for _, d := range []struct {
		name string
		def  bool
	}{{"exec", true}, {"raw_exec", false}} {
		if !a.driverEnabled(d.name, d.def) {
			continue
		}
		sup, err := plugin.NewSupervisor(bin, d.name, a.logger.Named("plugin."+d.name))
		if err != nil {
			return nil, fmt.Errorf("launch %s driver plugin: %w", d.name, err)
		}
		sups = append(sups, sup)
		out[d.name] = sup
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
