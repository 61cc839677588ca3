package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// ownEngine is a Docker Engine of the test's own: a second dockerd with
// its own socket, data and state directories, no bridge and no iptables
// rules, which the test stops and starts again for real while the
// machine's Engine, which the other tests share, stays up.
type ownEngine struct {
	dir, sock string
	cmd       *exec.Cmd
	exited    chan struct{}
}

func newOwnEngine(t *testing.T) *ownEngine {
	t.Helper()
	// Not under t.TempDir: a dockerd killed mid-way may leave mounts
	// there, and its removal would then fail the test.
	dir, err := os.MkdirTemp("", "mk-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	e := &ownEngine{dir: dir, sock: filepath.Join(dir, "docker.sock")}
	t.Cleanup(func() {
		e.stop(t)
		_ = os.RemoveAll(dir)
	})
	return e
}

// start starts the Engine and waits until it answers.
func (e *ownEngine) start(t *testing.T) {
	t.Helper()
	e.cmd = exec.Command("dockerd", "--host", "unix://"+e.sock, "--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"), "--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false")
	logf, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	e.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(e.cmd, e.exited)
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		out, err := e.docker("version", "--format", "{{.Server.Version}}").CombinedOutput()
		return err == nil, fmt.Errorf("dockerd does not answer: %v: %s", err, out)
	})
}

// stop stops the Engine (SIGTERM, as a service manager does) and waits
// for it to exit.
func (e *ownEngine) stop(t *testing.T) {
	t.Helper()
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	e.cmd = nil
}

// docker is the docker CLI against this Engine.
func (e *ownEngine) docker(args ...string) *exec.Cmd {
	return exec.Command("docker", append([]string{"-H", "unix://" + e.sock}, args...)...)
}

// loadImage copies an image of the machine's Engine into this one.
func (e *ownEngine) loadImage(t *testing.T, image string) {
	t.Helper()
	save := exec.Command("docker", "save", image)
	load := e.docker("load")
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("docker load %s: %v\n%s", image, err, out)
	}
	if err := save.Wait(); err != nil {
		t.Fatalf("docker save %s: %v", image, err)
	}
}

// dockerInfo is the node's docker driver as the servers have it.
func dockerInfo(cl *api.Client) (*structs.DriverInfo, error) {
	nodes, _, err := cl.Nodes(nil)
	if err != nil {
		return nil, err
	}
	if len(nodes) != 1 {
		return nil, fmt.Errorf("%d nodes, want 1", len(nodes))
	}
	n, err := cl.Node(nodes[0].ID, nil)
	if err != nil {
		return nil, err
	}
	d := n.Drivers["docker"]
	if d == nil {
		return nil, errors.New("node has no docker driver")
	}
	return d, nil
}

// TestDockerFingerprintFollowsEngine: the client fingerprints its drivers
// again while it runs. An Engine that stops (a real dockerd of the test's
// own, stopped with SIGTERM) marks the node's docker driver unhealthy, and
// the scheduler leaves a docker job pending with that reason; once the
// Engine is started again the driver is healthy and the job's pod runs on
// it, all without restarting the client.
func TestDockerFingerprintFollowsEngine(t *testing.T) {
	requireDocker(t)
	engine := newOwnEngine(t)
	engine.start(t)
	engine.loadImage(t, "mk/busybox:test")
	addr, _ := testutil.StartDevAgent(t, fmt.Sprintf(`client {
  enabled              = true
  fingerprint_interval = "500ms"
  driver "docker" {
    endpoint = "unix://%s"
  }
}
`, engine.sock))
	cl := clientAt(t, addr)
	const bound = 10 * time.Second // the interval, the ping's 3s timeout and a register
	waitDocker := func(healthy bool) {
		t.Helper()
		testutil.WaitFor(t, bound, func() (bool, error) {
			d, err := dockerInfo(cl)
			if err != nil {
				return false, err
			}
			if d.Healthy == healthy && d.Detected {
				return true, nil
			}
			return false, fmt.Errorf("docker driver healthy=%v detected=%v (%s)", d.Healthy, d.Detected, d.HealthDescription)
		})
	}
	waitDocker(true)

	engine.stop(t)
	start := time.Now()
	waitDocker(false)
	t.Logf("docker driver unhealthy %v after the Engine stopped", time.Since(start).Round(time.Millisecond))
	if out, errOut, code := runMk(t, addr, "job", "run", "-detach", writeJob(t, "sleeper.hcl", dockerSleeperJob)); code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		pods, _, err := cl.Pods("sleeper", nil)
		if err != nil || len(pods) != 1 {
			return false, err
		}
		return pods[0].PendingReason != "", fmt.Errorf("pod %s: %q", pods[0].Phase, pods[0].PendingReason)
	})

	engine.start(t)
	start = time.Now()
	waitDocker(true)
	t.Logf("docker driver healthy %v after the Engine started again", time.Since(start).Round(time.Millisecond))
	podID := onlyPod(t, addr, "sleeper")
	running := func() []string {
		out, _ := engine.docker("ps", "-a", "--filter", "label=mk.pod="+podID, "--format", "{{.Names}} {{.State}}").Output()
		return strings.Fields(string(out))
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		got := running()
		return slices.Contains(got, "running"), fmt.Errorf("containers of the pod on the restarted Engine: %v", got)
	})
	if out, errOut, code := runMk(t, addr, "job", "stop", "sleeper"); code != 0 {
		t.Fatalf("job stop: %d\n%s%s", code, out, errOut)
	}
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		got := running()
		return len(got) == 0, fmt.Errorf("containers of the stopped pod: %v", got)
	})
}

// dockerSleeperJob is one docker task that sleeps.
const dockerSleeperJob = `job "sleeper" {
  type = "service"
  group "g" {
    task "sleep" {
      driver = "docker"
      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 50
        memory = 16
      }
    }
  }
}
`
