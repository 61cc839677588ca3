package docker

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// TestPodSandboxSharesLocalhost runs two containers of one pod joined to
// its pause container: an httpd and a client that reaches it on
// localhost.
func TestPodSandboxSharesLocalhost(t *testing.T) {
	d := newTestDriver(t, Config{})
	srv := taskConfig(t, "web", `mkdir -p /www && echo "hi from web" > /www/index.html && exec httpd -f -p 8080 -h /www`)
	ctx := context.Background()
	spec, err := d.CreateNetwork(ctx, &drivers.NetworkRequest{PodID: srv.PodID, NodeID: testNode, JobID: "job"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spec.NetNSPath); err != nil {
		t.Fatalf("sandbox namespace: %v", err)
	}
	// The namespace is new and bare (runc's, not libnetwork's): the
	// client's plumbing brings lo up; here the test does.
	if out, err := exec.Command("nsenter", "--net="+spec.NetNSPath, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in the sandbox: %v\n%s", err, out)
	}
	if self, _ := os.Readlink("/proc/self/ns/net"); self == readLink(t, spec.NetNSPath) {
		t.Fatal("the sandbox is the host's network namespace")
	}
	// The same pod again (a restarted client) gets the same sandbox.
	again, err := d.CreateNetwork(ctx, &drivers.NetworkRequest{PodID: srv.PodID, NodeID: testNode, JobID: "job"})
	if err != nil || again.SandboxID != spec.SandboxID {
		t.Fatalf("second CreateNetwork: %+v, %v; want %s", again, err, spec.SandboxID)
	}
	srv.NetNSPath = spec.NetNSPath
	cli := taskConfig(t, "client", `until wget -q -O - http://localhost:8080/; do sleep 0.2; done`)
	cli.ID, cli.PodID, cli.NetNSPath = drivers.TaskID(srv.PodID, "client"), srv.PodID, spec.NetNSPath
	start(t, d, srv)
	start(t, d, cli)
	if res := waitExit(t, d, cli.ID, 30*time.Second); res.ExitCode != 0 {
		t.Fatalf("client: %+v; stderr %q", res, readFile(t, cli.StderrPath))
	}
	if got := readFile(t, cli.StdoutPath); !strings.Contains(got, "hi from web") {
		t.Fatalf("client got %q", got)
	}
	for _, id := range []string{cli.ID, srv.ID} {
		if err := d.DestroyTask(id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DestroyNetwork(ctx, srv.PodID); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		_, err := d.findPause(ctx, srv.PodID)
		return err != nil, nil
	})
}

func TestStartWithoutSandboxFails(t *testing.T) {
	d := newTestDriver(t, Config{})
	cfg := taskConfig(t, "lonely", "true")
	cfg.NetNSPath = "/proc/1/ns/net"
	if _, err := d.StartTask(cfg); err == nil || !strings.Contains(err.Error(), "no running pause container") {
		t.Fatalf("start without a sandbox: %v", err)
	}
}

func readLink(t *testing.T, path string) string {
	t.Helper()
	s, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestImagesCheckedWithTheSandbox: the images named in the network
// request are checked while the pause container starts; each task takes
// its image's result (an absent image fails its task with the reason)
// once, and the sandbox's removal drops what no task took.
func TestImagesCheckedWithTheSandbox(t *testing.T) {
	d := newTestDriver(t, Config{})
	web := taskConfig(t, "web", "sleep 60")
	absent := taskConfig(t, "absent", "true")
	absent.ID, absent.PodID = drivers.TaskID(web.PodID, "absent"), web.PodID
	absent.Task.Config.Image = "mk/absent:nope"
	ctx := context.Background()
	spec, err := d.CreateNetwork(ctx, &drivers.NetworkRequest{PodID: web.PodID, NodeID: testNode, JobID: "job", Images: []drivers.ImageRef{
		{Image: testImage, Pull: structs.PullNever}, {Image: "mk/absent:nope", Pull: structs.PullNever}, {Image: "mk/unused:1", Pull: structs.PullNever}}})
	if err != nil {
		t.Fatal(err)
	}
	pending := func() int {
		d.images.mu.Lock()
		defer d.images.mu.Unlock()
		return len(d.images.pending)
	}
	if n := pending(); n != 3 {
		t.Fatalf("%d image checks begun with the sandbox, want 3", n)
	}
	web.NetNSPath, absent.NetNSPath = spec.NetNSPath, spec.NetNSPath
	if _, err := d.StartTask(absent); err == nil || !strings.Contains(err.Error(), `mk/absent:nope is not on this node and pull = "never"`) {
		t.Fatalf("start with an absent image: %v", err)
	}
	start(t, d, web)
	if n := pending(); n != 1 {
		t.Fatalf("%d image checks left after both tasks started, want 1 (the unused image)", n)
	}
	if err := d.DestroyTask(web.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := d.DestroyNetwork(ctx, web.PodID); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d image checks left after the sandbox went", n)
	}
}
