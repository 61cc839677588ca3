package agent

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/mk-orchestrator/mk/drivers/slurm"
)

// slurmOptions are the options of client.driver "gpu-slurm".
type slurmOptions struct {
	// Partition is the partition of tasks that name none.
	Partition string `hcl:"partition,optional"`
	// SlurmConf is the slurm.conf the Slurm commands read.
	SlurmConf string `hcl:"slurm_conf,optional"`
	// BinDir is where the Slurm commands are (default: PATH).
	BinDir string `hcl:"bin_dir,optional"`
	// PollInterval is how often the jobs are followed (default 1s).
	PollInterval string `hcl:"poll_interval,optional"`
}

// slurmConfig reads client.driver "gpu-slurm" into the plugin's
// environment entry, and whether the driver is on: as configured, else
// when sbatch is found (in bin_dir or PATH).
func (a *Agent) slurmConfig() (string, bool, error) {
	var cfg slurm.Config
	if a.config.Client != nil {
		for _, d := range a.config.Client.Drivers {
			if d.Name != slurm.Name || d.Options == nil {
				continue
			}
			var o slurmOptions
			if diags := gohcl.DecodeBody(d.Options, nil, &o); diags.HasErrors() {
				return "", false, fmt.Errorf("client driver %q: %w", slurm.Name, diagError(diags))
			}
			cfg.Partition, cfg.SlurmConf, cfg.BinDir = o.Partition, o.SlurmConf, o.BinDir
			if o.PollInterval != "" {
				t, err := time.ParseDuration(o.PollInterval)
				if err != nil || t <= 0 {
					return "", false, fmt.Errorf("client driver %q: poll_interval %q is not a positive duration", slurm.Name, o.PollInterval)
				}
				cfg.PollInterval = t
			}
		}
	}
	return cfg.Env(), a.driverEnabled(slurm.Name, sbatchFound(cfg.BinDir)), nil
}

// sbatchFound reports whether sbatch is in binDir, or in PATH.
func sbatchFound(binDir string) bool {
	if binDir != "" {
		_, err := exec.LookPath(filepath.Join(binDir, "sbatch"))
		return err == nil
	}
	_, err := exec.LookPath("sbatch")
	return err == nil
}
