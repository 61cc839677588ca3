package slurm

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Name is the driver's name in jobs and plugin commands.
const Name = "gpu-slurm"

// ConfigEnv is the environment variable that carries the client's
// driver "gpu-slurm" block to the plugin process, as JSON.
const ConfigEnv = "MK_SLURM_CONFIG"

// DefaultPollInterval is how often the driver asks Slurm about its jobs
// when the config sets no poll_interval.
const DefaultPollInterval = time.Second

// Config is the client's driver "gpu-slurm" block.
type Config struct {
	// Partition is the partition of jobs whose task names none.
	Partition string `json:",omitempty"`
	// SlurmConf is the slurm.conf the Slurm commands read (SLURM_CONF);
	// "" leaves Slurm's default (or the agent's SLURM_CONF).
	SlurmConf string `json:",omitempty"`
	// BinDir is where sbatch, squeue, sacct, scancel and sinfo are; ""
	// looks them up in PATH.
	BinDir string `json:",omitempty"`
	// PollInterval is how often the jobs are followed (one squeue call
	// for all of them).
	PollInterval time.Duration `json:",omitempty"`
}

// ConfigFromEnv reads the Config in MK_SLURM_CONFIG (zero when unset).
func ConfigFromEnv() (Config, error) {
	var c Config
	if s := os.Getenv(ConfigEnv); s != "" {
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return c, fmt.Errorf("%s: %w", ConfigEnv, err)
		}
	}
	return c, nil
}

// Env returns c as the plugin's environment entry.
func (c Config) Env() string {
	b, _ := json.Marshal(c)
	return ConfigEnv + "=" + string(b)
}

func (c Config) pollInterval() time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return DefaultPollInterval
}
