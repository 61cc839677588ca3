package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Slurm is a one-node Slurm cluster on localhost (scripts/slurm.sh):
// munged, slurmctld and slurmd started by the test, with GPUs declared
// as gres backed by files under Dir.
type Slurm struct {
	// Dir holds the cluster's config, state, sockets and logs.
	Dir string
	// Conf is its slurm.conf: SLURM_CONF for every Slurm command.
	Conf string
	// GPUs is the gres gpu count of its node (partition "gpu").
	GPUs int
}

// StartSlurm starts a Slurm cluster with gpus GPUs on free ports, waits
// until its node is idle, and stops it at the end of the test (its jobs
// cancelled, then the daemons it started, by PID).
func StartSlurm(t testing.TB, gpus int) *Slurm {
	t.Helper()
	root := moduleRoot(t)
	// Unix socket paths are short: keep the directory near /tmp.
	dir, err := os.MkdirTemp("", "mk-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Slurm{Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), GPUs: gpus}
	script := filepath.Join(root, "scripts", "slurm.sh")
	cmd := exec.Command(script, "start", dir, strconv.Itoa(gpus))
	cmd.Env = append(os.Environ(), fmt.Sprintf("SLURMCTLD_PORT=%d", FreePort(t)), fmt.Sprintf("SLURMD_PORT=%d", FreePort(t)))
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("stop slurm: %v\n%s", err, out)
		}
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("slurm's logs are in %s", dir)
		}
	})
	if err != nil {
		t.Fatalf("start slurm: %v\n%s", err, out)
	}
	return s
}

// Run runs a Slurm command against the cluster and returns its stdout;
// a failure fails the test.
func (s *Slurm) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := s.Try(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Try runs a Slurm command against the cluster.
func (s *Slurm) Try(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+s.Conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// JobState is the state squeue reports of a job ("" when it is not in
// the queue, finished jobs included while the controller keeps them).
func (s *Slurm) JobState(t testing.TB, id string) string {
	t.Helper()
	out, err := s.Try("squeue", "-h", "-t", "all", "-j", id, "-o", "%T")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// JobsNamed returns the IDs of the jobs (any state) with a name.
func (s *Slurm) JobsNamed(t testing.TB, name string) []string {
	t.Helper()
	out := s.Run(t, "squeue", "-h", "-t", "all", "-n", name, "-o", "%i")
	return strings.Fields(out)
}

// JobsWithComment returns the IDs of the jobs (any state) whose comment
// is comment (the gpu-slurm driver's: mk:<node>:<pod>/<task>).
func (s *Slurm) JobsWithComment(t testing.TB, comment string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(s.Run(t, "squeue", "-h", "-t", "all", "-o", "%i|%k"), "\n") {
		if id, c, ok := strings.Cut(strings.TrimSpace(line), "|"); ok && c == comment {
			ids = append(ids, id)
		}
	}
	return ids
}

// ClientConfig is the agent's client driver block for this cluster.
func (s *Slurm) ClientConfig() string {
	return fmt.Sprintf(`driver "gpu-slurm" {
    enabled       = true
    partition     = "gpu"
    slurm_conf    = %q
    poll_interval = "200ms"
  }`, s.Conf)
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("module root not found")
	return ""
}
