package slurm

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// commandTimeout bounds one Slurm command: a controller that does not
// answer fails the call (and the poll), it does not hang the driver.
const commandTimeout = 30 * time.Second

// cli runs the Slurm commands with the driver's slurm.conf.
type cli struct {
	cfg Config
}

// path is the command's path: in BinDir when set, else looked up in PATH.
func (c cli) path(name string) (string, error) {
	if c.cfg.BinDir != "" {
		p := filepath.Join(c.cfg.BinDir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed: %w", name, err)
	}
	return p, nil
}

// defaultSlurmConfs are where the Slurm commands find their slurm.conf
// when SLURM_CONF names none: the packaged places, and the copy a slurmd
// of a configless cluster keeps for the commands of its node.
var defaultSlurmConfs = []string{"/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/run/slurm/conf/slurm.conf"}

// slurmConf is the slurm.conf the commands will read. Without one they
// look for a configless controller in DNS, which on a node that has none
// takes the resolver's full timeout to fail: the driver says at once that
// Slurm is not configured here instead.
func (c cli) slurmConf() (string, error) {
	if name := cmp.Or(c.cfg.SlurmConf, os.Getenv("SLURM_CONF")); name != "" {
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("slurm.conf: %w", err)
		}
		return name, nil
	}
	for _, name := range defaultSlurmConfs {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	return "", fmt.Errorf("no slurm.conf on this node: none in %s (set slurm_conf in the client's driver %q block)",
		strings.Join(defaultSlurmConfs, ", "), Name)
}

// env is the environment of a Slurm command: base (the driver's own
// when nil) with SLURM_CONF set to the configured slurm.conf.
func (c cli) env(base []string) []string {
	if base == nil {
		base = os.Environ()
	}
	env := append([]string{}, base...)
	if c.cfg.SlurmConf != "" {
		env = append(env, "SLURM_CONF="+c.cfg.SlurmConf)
	}
	return env
}

// commandError is a Slurm command that failed: its name, exit and what it
// wrote to stderr.
type commandError struct {
	name   string
	err    error
	stderr string
}

func (e *commandError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s: %v", e.name, e.err)
	}
	return fmt.Sprintf("%s: %v: %s", e.name, e.err, e.stderr)
}

func (e *commandError) Unwrap() error { return e.err }

// run runs a Slurm command and returns its stdout.
func (c cli) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return c.runIn(ctx, "", nil, name, args...)
}

// runIn runs a Slurm command in dir with the environment env (the
// driver's own when nil; SLURM_CONF is added) and returns its stdout.
func (c cli) runIn(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	bin, err := c.path(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = c.env(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &commandError{name: name, err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.Bytes(), nil
}
