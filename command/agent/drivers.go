package agent

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/docker"
	"github.com/mk-orchestrator/mk/drivers/plugin"
	"github.com/mk-orchestrator/mk/drivers/slurm"
)

// launchDrivers starts the driver plugins the client config enables, each
// as `mk plugin <name>` in a subprocess under a supervisor that restarts it
// and recovers its tasks when it dies. exec and docker are on unless
// disabled with driver "NAME" { enabled = false } (docker fingerprints
// unhealthy where no Engine answers, and the scheduler places no docker
// task there); raw_exec (exec without isolation) is off unless enabled
// with driver "raw_exec" { enabled = true }; gpu-slurm is on where sbatch
// is found unless disabled (it fingerprints unhealthy until sinfo
// answers).
func (a *Agent) launchDrivers() (map[string]drivers.Driver, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the mk binary for driver plugins: %w", err)
	}
	dockerEnv, err := a.dockerConfig()
	if err != nil {
		return nil, err
	}
	slurmEnv, slurmOn, err := a.slurmConfig()
	if err != nil {
		return nil, err
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
		opts []plugin.SupervisorOption
	}{
		{"exec", true, nil}, {"raw_exec", false, nil},
		{docker.Name, true, []plugin.SupervisorOption{plugin.WithEnv(dockerEnv)}},
		{slurm.Name, slurmOn, []plugin.SupervisorOption{plugin.WithEnv(slurmEnv)}},
	} {
		if !a.driverEnabled(d.name, d.def) {
			continue
		}
		sup, err := plugin.NewSupervisor(bin, d.name, a.logger.Named("plugin."+d.name), d.opts...)
		if err != nil {
			return nil, fmt.Errorf("launch %s driver plugin: %w", d.name, err)
		}
		sups = append(sups, sup)
		out[d.name] = sup
	}
	return out, nil
}

// dockerOptions are the options of client.driver "docker".
type dockerOptions struct {
	AllowPrivileged bool     `hcl:"allow_privileged,optional"`
	Volumes         []string `hcl:"volumes,optional"`
	PullTimeout     string   `hcl:"pull_timeout,optional"`
	// Endpoint is the Engine's address (default: DOCKER_HOST, else the
	// local socket).
	Endpoint string `hcl:"endpoint,optional"`
}

// dockerConfig reads client.driver "docker" into the plugin's
// environment entry.
func (a *Agent) dockerConfig() (string, error) {
	var cfg docker.Config
	if a.config.Client != nil {
		for _, d := range a.config.Client.Drivers {
			if d.Name != docker.Name || d.Options == nil {
				continue
			}
			var o dockerOptions
			if diags := gohcl.DecodeBody(d.Options, nil, &o); diags.HasErrors() {
				return "", fmt.Errorf("client driver \"docker\": %w", diagError(diags))
			}
			cfg.AllowPrivileged, cfg.Volumes, cfg.Endpoint = o.AllowPrivileged, o.Volumes, o.Endpoint
			if o.PullTimeout != "" {
				t, err := time.ParseDuration(o.PullTimeout)
				if err != nil || t <= 0 {
					return "", fmt.Errorf("client driver \"docker\": pull_timeout %q is not a positive duration", o.PullTimeout)
				}
				cfg.PullTimeout = t
			}
		}
	}
	return cfg.Env(), nil
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
