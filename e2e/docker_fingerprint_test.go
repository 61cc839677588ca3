package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// engineProxy is a unix socket the test opens and closes in front of the
// real Engine's: an agent whose docker endpoint is the proxy sees its
// Engine go away and come back, while other tests keep the real one.
type engineProxy struct {
	path, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newEngineProxy(t *testing.T) *engineProxy {
	p := &engineProxy{path: filepath.Join(t.TempDir(), "docker.sock"), target: "/var/run/docker.sock", conns: map[net.Conn]bool{}}
	t.Cleanup(p.down)
	return p
}

// up listens on the proxy's socket and forwards every connection.
func (p *engineProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatalf("engine proxy: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *engineProxy) forward(c net.Conn) {
	up, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// down closes the socket (which removes it) and every connection through
// it, as an Engine that stopped.
func (p *engineProxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
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
// again while it runs. An Engine that goes away marks the node's docker
// driver unhealthy (and the scheduler leaves a docker job pending with
// that reason); once it answers again the driver is healthy and the job's
// pod runs, all without restarting the client.
func TestDockerFingerprintFollowsEngine(t *testing.T) {
	requireDocker(t)
	proxy := newEngineProxy(t)
	proxy.up(t)
	addr, _ := testutil.StartDevAgent(t, fmt.Sprintf(`client {
  enabled              = true
  fingerprint_interval = "500ms"
  driver "docker" {
    endpoint = "unix://%s"
  }
}
`, proxy.path))
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

	proxy.down()
	start := time.Now()
	waitDocker(false)
	t.Logf("docker driver unhealthy %v after the Engine went away", time.Since(start).Round(time.Millisecond))
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

	proxy.up(t)
	start = time.Now()
	waitDocker(true)
	t.Logf("docker driver healthy %v after the Engine came back", time.Since(start).Round(time.Millisecond))
	podID := onlyPod(t, addr, "sleeper")
	if out, errOut, code := runMk(t, addr, "job", "stop", "sleeper"); code != 0 {
		t.Fatalf("job stop: %d\n%s%s", code, out, errOut)
	}
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		return len(dockerPS(t, podID)) == 0, nil
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
