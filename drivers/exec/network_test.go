package exec

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/client/network"
	"github.com/mk-orchestrator/mk/client/state"
	"github.com/mk-orchestrator/mk/drivers"
)

// podNetwork makes a pod network the way the client does (client/network)
// in a throwaway "host" namespace, so the machine's network is not
// touched, and returns the pod's network; everything goes when the test
// ends.
func podNetwork(t *testing.T) *network.PodNetwork {
	t.Helper()
	host := filepath.Join(t.TempDir(), "host")
	if err := network.NewNamespace(host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = network.RemoveNamespace(host) })
	dataDir := t.TempDir()
	db, err := state.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := network.New(network.Config{NodeID: "n1", PodCIDR: "10.42.9.0/24", StateDir: filepath.Join(dataDir, "netns"),
		HostNetNS: host, Store: db, Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Teardown(); err != nil {
			t.Errorf("tear down pod network: %v", err)
		}
		m.Close()
		db.Close()
	})
	if err := m.Setup(); err != nil {
		t.Fatal(err)
	}
	podDir := t.TempDir()
	reachable(t, podDir)
	pn, err := m.CreatePod(&network.PodRequest{ID: "pod-1", Namespace: "shop", ResolvConfPath: filepath.Join(podDir, "resolv.conf")})
	if err != nil {
		t.Fatal(err)
	}
	return pn
}

// inPod puts a task config into the pod's network.
func inPod(cfg *drivers.TaskConfig, pn *network.PodNetwork) *drivers.TaskConfig {
	cfg.NetNSPath, cfg.ResolvConfPath = pn.NetNSPath, pn.ResolvConfPath
	return cfg
}

// TestTasksInPodNetwork: exec tasks of a pod run in its network
// namespace: eth0 holds the pod's address, the pod's resolv.conf is at
// /etc/resolv.conf (the host's file unchanged), two tasks talk over
// localhost, and ExecTask's commands are in the namespace too.
func TestTasksInPodNetwork(t *testing.T) {
	d := newTestDriver(t)
	pn := podNetwork(t)
	hostResolv := readFile(t, "/etc/resolv.conf")
	www := t.TempDir()
	reachable(t, www)
	if err := os.WriteFile(filepath.Join(www, "hello"), []byte("hello from the pod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	server := inPod(testConfig(t, "/bin/sh", "-c", "echo ready; exec busybox httpd -f -p 127.0.0.1:18099 -h "+www), pn)
	startAndWaitReady(t, d, server)

	if out := execOut(t, d, server.ID, "busybox", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, pn.IP.String()+"/24") {
		t.Fatalf("eth0 in the task: %s; want %s", out, pn.IP)
	}
	resolv := execOut(t, d, server.ID, "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "nameserver "+pn.Gateway.String()) || !strings.Contains(resolv, "search shop.svc.mk.local") {
		t.Fatalf("/etc/resolv.conf in the task:\n%s", resolv)
	}
	if readFile(t, "/etc/resolv.conf") != hostResolv {
		t.Fatal("the host's /etc/resolv.conf changed")
	}

	client := inPod(testConfig(t, "/bin/sh", "-c", "busybox wget -q -O - http://127.0.0.1:18099/hello"), pn)
	client.ID, client.Name = drivers.TaskID(server.PodID, "client"), "client"
	if _, err := d.StartTask(client); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, client.ID, 15*time.Second); res.ExitCode != 0 {
		t.Fatalf("client exited %d: %s", res.ExitCode, readFile(t, client.StderrPath))
	}
	if out := readFile(t, client.StdoutPath); out != "hello from the pod\n" {
		t.Fatalf("client got %q", out)
	}
}

// TestRawTaskInPodNetwork: raw_exec tasks join the pod's network
// namespace too (and see its resolv.conf); a task without one stays in
// the host's.
func TestRawTaskInPodNetwork(t *testing.T) {
	d := newTestDriver(t, Raw())
	pn := podNetwork(t)
	cfg := inPod(testConfig(t, "/bin/sh", "-c", "busybox ip -4 addr show eth0; cat /etc/resolv.conf"), pn)
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, cfg.ID, 15*time.Second); res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, readFile(t, cfg.StderrPath))
	}
	out := readFile(t, cfg.StdoutPath)
	if !strings.Contains(out, pn.IP.String()+"/24") || !strings.Contains(out, "nameserver "+pn.Gateway.String()) {
		t.Fatalf("raw task in the pod saw:\n%s", out)
	}
	host := testConfig(t, "/bin/sh", "-c", "busybox ip -4 addr show eth0 || true")
	if _, err := d.StartTask(host); err != nil {
		t.Fatal(err)
	}
	waitResult(t, d, host.ID, 15*time.Second)
	if strings.Contains(readFile(t, host.StdoutPath), pn.IP.String()) {
		t.Fatal("a task without a network namespace is in the pod's")
	}
}
