package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// scriptName is the file in the task's directory that holds the task's
// config.script, which sbatch submits.
const scriptName = ".mk-job.sbatch"

// defaultPath is the PATH of a job whose task sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stage writes the task's files and script into its directory, and
// creates its log files.
func stage(cfg *drivers.TaskConfig) (string, error) {
	c := cfg.Task.Config
	for name, content := range c.Files {
		p := filepath.Join(cfg.TaskDir, filepath.FromSlash(name))
		if !strings.HasPrefix(p, filepath.Clean(cfg.TaskDir)+string(filepath.Separator)) {
			return "", fmt.Errorf("file %q is outside the task's directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("stage file %q: %w", name, err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("stage file %q: %w", name, err)
		}
	}
	// The logs exist from the submission on, empty while the job waits:
	// `mk pod logs -f` follows them before Slurm opens them (to append).
	for _, p := range []string{cfg.StdoutPath, cfg.StderrPath} {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return "", fmt.Errorf("create the task's log: %w", err)
		}
		f.Close()
	}
	script := filepath.Join(cfg.TaskDir, scriptName)
	if err := os.WriteFile(script, []byte(c.Script), 0o755); err != nil {
		return "", fmt.Errorf("write the job script: %w", err)
	}
	return script, nil
}

// sbatchArgs are the options the task's config becomes. The job runs in
// the task's directory and appends its output and error to the task's
// log files (so `mk pod logs -f` follows them while it runs, and a
// restarted task keeps what earlier runs wrote); its comment names the
// node and the task (Reconcile finds a node's jobs by it).
func sbatchArgs(cfg *drivers.TaskConfig, defaultPartition, script string) ([]string, error) {
	c := cfg.Task.Config
	args := []string{
		"--parsable",
		"--job-name=" + jobName(cfg),
		"--comment=" + jobComment(cfg),
		"--chdir=" + cfg.TaskDir,
		"--output=" + cfg.StdoutPath,
		"--error=" + cfg.StderrPath,
		"--open-mode=append",
		"--export=ALL",
	}
	if gpus := cfg.Task.GPUs(); gpus > 0 {
		args = append(args, "--gres=gpu:"+strconv.Itoa(gpus))
	}
	if p := firstNonEmpty(c.Partition, defaultPartition); p != "" {
		args = append(args, "--partition="+p)
	}
	if c.Time != "" {
		d, err := structs.ParseDuration(c.Time)
		if err != nil {
			return nil, fmt.Errorf("config.time: %w", err)
		}
		args = append(args, "--time="+slurmTime(d))
	}
	for _, o := range []struct {
		flag  string
		value int
	}{{"--nodes", c.Nodes}, {"--ntasks", c.NTasks}, {"--cpus-per-task", c.CPUsPerTask}} {
		if o.value > 0 {
			args = append(args, o.flag+"="+strconv.Itoa(o.value))
		}
	}
	for _, o := range []struct{ flag, value string }{
		{"--mem", c.Mem}, {"--account", c.Account}, {"--qos", c.QOS}, {"--array", c.Array},
	} {
		if o.value != "" {
			args = append(args, o.flag+"="+o.value)
		}
	}
	if cfg.Task.User != "" {
		args = append(args, "--uid="+cfg.Task.User)
	}
	return append(args, script), nil
}

// jobName is mk.<job>.<task>, which squeue shows.
func jobName(cfg *drivers.TaskConfig) string {
	name := "mk." + cfg.Name
	if cfg.JobID != "" {
		name = "mk." + cfg.JobID + "." + cfg.Name
	}
	return name
}

// slurmTime is a duration as sbatch --time takes it: minutes, rounded
// up, as "D-HH:MM:00" ("0-00:10:00" for 10m).
func slurmTime(d time.Duration) string {
	mins := int((d + time.Minute - 1) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return fmt.Sprintf("%d-%02d:%02d:00", mins/(24*60), mins/60%24, mins%60)
}

// jobEnv is the job's environment (sbatch runs with it and exports it
// all): a standard PATH, the task's env (mk's MK_* variables among
// them), then config.env. Nothing of the agent's environment gets in.
func jobEnv(cfg *drivers.TaskConfig) []string {
	env := map[string]string{"PATH": defaultPath}
	for k, v := range cfg.Env() {
		env[k] = v
	}
	for k, v := range cfg.Task.Config.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// submit stages the task and submits it; it returns the job ID.
func (d *Driver) submit(ctx context.Context, cfg *drivers.TaskConfig, partition string) (string, error) {
	script, err := stage(cfg)
	if err != nil {
		return "", err
	}
	args, err := sbatchArgs(cfg, partition, script)
	if err != nil {
		return "", err
	}
	out, err := d.cli.runIn(ctx, cfg.TaskDir, jobEnv(cfg), "sbatch", args...)
	if err != nil {
		return "", err
	}
	// --parsable prints "ID" or "ID;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job ID", strings.TrimSpace(string(out)))
	}
	return id, nil
}

// validate checks the fields StartTask needs.
func validate(cfg *drivers.TaskConfig) error {
	switch {
	case cfg == nil:
		return errors.New("no task config")
	case cfg.ID == "":
		return errors.New("task config has no ID")
	case cfg.Task == nil:
		return errors.New("task config has no task")
	case cfg.Task.Config == nil || cfg.Task.Config.Script == "":
		return errors.New("gpu-slurm task has no script")
	case cfg.TaskDir == "":
		return errors.New("task config has no task directory")
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
