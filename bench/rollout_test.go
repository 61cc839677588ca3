//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// rolloutResult is bench/results/rollout.json.
type rolloutResult struct {
	Pods           int     `json:"pods"`
	Seconds        float64 `json:"seconds"`
	FailedRequests int     `json:"failed_requests"`
	Requests       int     `json:"requests"`
	MaxSurge       string  `json:"max_surge"`
	Load           string  `json:"load"`
}

// TestBenchRollout rolls a 100-pod exec service (busybox httpd, an http
// check, max_surge 25%) from v1 to v2 on 3 clients, each its own mk
// agent in a network namespace on one L2 segment, while a loop on
// client-c calls the ClusterIP 100 times a second on new connections;
// it reports the time from `mk job run` of v2 until the rollout is
// complete, and the failed requests (target: none).
func TestBenchRollout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it makes network namespaces")
	}
	const pods = 100
	bin := testutil.MkBinary(t)
	l2 := testutil.NewL2Net(t, 8)
	srvHost := l2.AddHost(1)
	servers := testutil.NewServerOnHost(t, srvHost)
	srvAddr := servers.Agents[0].HTTPAddr
	var lastHost *testutil.Host
	for i, name := range []string{"client-a", "client-b", "client-c"} {
		h := l2.AddHost(2 + i)
		lastHost = h
		a := testutil.StartClientOnly(t, testutil.ClientOnlyOptions{Name: name, Servers: []string{srvAddr}, BindAddr: h.IP, NetNS: h.NS})
		t.Cleanup(func() {
			if t.Failed() {
				log, _ := os.ReadFile(a.LogPath)
				t.Logf("%s log:\n%s", name, tail(string(log), 40))
			}
		})
	}
	cl, err := api.NewClient(api.Config{Address: "http://" + srvAddr})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		nodes, _, err := cl.Nodes(nil)
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == structs.NodeStatusReady {
				ready++
			}
		}
		return ready == 3, fmt.Errorf("%d of 3 nodes ready", ready)
	})
	dir := t.TempDir()
	run := func(version string) (time.Duration, string) {
		path := dir + "/" + version + ".hcl"
		if err := os.WriteFile(path, []byte(rolloutBenchJob(pods, version)), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := exec.Command(bin, "job", "run", "-address", "http://"+srvAddr, "-timeout", "5m", path).CombinedOutput()
		if err != nil {
			t.Fatalf("job run %s: %v\n%s", version, err, tail(string(out), 30))
		}
		return time.Since(start), string(out)
	}
	if took, _ := run("v1"); took > 0 {
		fmt.Printf("v1: %d pods healthy in %s\n", pods, took.Round(time.Millisecond))
	}
	var ip string
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		eps, err := cl.EndpointsOf(structs.DefaultNamespace, "rollout", nil)
		if err != nil {
			return false, err
		}
		svc, err := cl.Service(structs.DefaultNamespace, "rollout", nil)
		if err != nil {
			return false, err
		}
		ip = svc.ClusterIP
		return eps.ReadyCount() == pods, fmt.Errorf("%d of %d endpoints ready", eps.ReadyCount(), pods)
	})
	ns, err := netns.GetFromName(lastHost.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	load := startNSLoad(ns, ip+":8080", 100)
	took, out := run("v2")
	ok, failed := load.finish()
	res := rolloutResult{Pods: pods, Seconds: took.Seconds(), FailedRequests: len(failed), Requests: ok + len(failed), MaxSurge: "25%", Load: loadAvg()}
	fmt.Println("\nrollout: mk job run of v2 of a 100-pod exec service on 3 clients (max_surge 25%), 100 req/s on the ClusterIP from client-c")
	printTable([]string{"pods", "seconds", "requests", "failed"}, [][]string{{fmt.Sprint(pods), fmt.Sprintf("%.1f", res.Seconds),
		fmt.Sprint(res.Requests), fmt.Sprint(res.FailedRequests)}})
	verdict := "met"
	if res.FailedRequests > 0 {
		verdict = "MISSED: " + strings.Join(failed[:min(len(failed), 5)], "; ")
	}
	fmt.Printf("load %s; target 0 failed requests: %s\n", res.Load, verdict)
	if testing.Verbose() {
		fmt.Println(tail(out, 8))
	}
	writeResults(t, "rollout", res)
}

func rolloutBenchJob(pods int, version string) string {
	return fmt.Sprintf(`job "rollout" {
  type = "service"
  group "web" {
    count = %d
    network {
      port "http" {
        to = 8080
      }
    }
    update {
      max_surge        = "25%%"
      min_healthy_time = "1s"
      healthy_deadline = "2m"
    }
    service {
      name = "rollout"
      port = "http"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "httpd" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo ok > www/healthz && echo %s > www/index.html && exec busybox httpd -f -p 8080 -h www"]
      }
      resources {
        cpu    = 10
        memory = 8
      }
    }
  }
}
`, pods, version)
}

// nsLoad calls an address at a fixed rate from a network namespace, each
// request on a new connection.
type nsLoad struct {
	mu     sync.Mutex
	ok     int
	failed []string
	stop   chan struct{}
	done   chan struct{}
}

func startNSLoad(ns netns.NsHandle, addr string, rate int) *nsLoad {
	l := &nsLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		// This thread stays in ns and dies with the goroutine.
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			l.failed = append(l.failed, "enter namespace: "+err.Error())
			return
		}
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			err := getOnce(addr)
			l.mu.Lock()
			if err != nil {
				l.failed = append(l.failed, time.Now().Format("15:04:05.000")+" "+err.Error())
			} else {
				l.ok++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// getOnce is one HTTP/1.0 GET on a new connection; a 200 passes.
func getOnce(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.0 200") && !strings.HasPrefix(line, "HTTP/1.1 200") {
		return fmt.Errorf("answer %q", strings.TrimSpace(line))
	}
	return nil
}

func (l *nsLoad) finish() (ok int, failed []string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.failed
}
