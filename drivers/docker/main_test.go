package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/hashicorp/go-hclog"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// The tests run against the real Docker Engine, as root: TestMain starts
// it (scripts/docker.sh installs docker.io and starts dockerd when
// missing, and builds mk/busybox:test) and builds a static mk for the
// pause image. Every container a test makes carries testNode as its node
// label; TestMain fails when any is left at the end.

// testImage is the image the tests run, built locally.
const testImage = "mk/busybox:test"

var (
	// testNode labels this run's containers.
	testNode = "test-" + randomID()[:8]
	// pauseBinary is a static mk for the pause image.
	pauseBinary string
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the docker driver's tests need root (they run the Docker Engine): run them as root, as make test and CI do")
		os.Exit(1)
	}
	if out, err := exec.Command("../../scripts/docker.sh").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "scripts/docker.sh: %v\n%s", err, out)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "mk-docker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pauseBinary = filepath.Join(dir, "mk")
	build := exec.Command("go", "build", "-o", pauseBinary, "../..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build a static mk: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if left := leftContainers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "containers with mk's labels left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// leftContainers are this run's containers still on the Engine.
func leftContainers() []string {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return []string{err.Error()}
	}
	defer c.Close()
	list, err := c.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelNode+"="+testNode))})
	if err != nil {
		return []string{err.Error()}
	}
	var names []string
	for _, ct := range list {
		names = append(names, strings.Join(ct.Names, ","))
		_ = c.ContainerRemove(context.Background(), ct.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	return names
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestDriver returns a driver whose tasks and pods' sandboxes are
// removed when the test ends.
func newTestDriver(t *testing.T, cfg Config) *Driver {
	t.Helper()
	cfg.PauseBinary = pauseBinary
	d, err := New(testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.mu.RLock()
		ids := make([]string, 0, len(d.tasks))
		for id := range d.tasks {
			ids = append(ids, id)
		}
		d.mu.RUnlock()
		for _, id := range ids {
			if err := d.DestroyTask(id, true); err != nil {
				t.Errorf("destroy %s: %v", id, err)
			}
		}
		if _, err := d.Reconcile(context.Background(), testNode, nil); err != nil {
			t.Errorf("reconcile: %v", err)
		}
		d.Close()
	})
	return d
}

// taskConfig is a task of a new pod running sh -c script in the test
// image.
func taskConfig(t *testing.T, name, script string) *drivers.TaskConfig {
	dir := t.TempDir()
	podID := randomID()
	return &drivers.TaskConfig{
		ID: drivers.TaskID(podID, name), PodID: podID, Name: name, TaskDir: dir, NodeID: testNode, JobID: "job",
		StdoutPath: filepath.Join(dir, "stdout.log"), StderrPath: filepath.Join(dir, "stderr.log"),
		Task: &structs.Task{Name: name, Driver: Name, Env: map[string]string{"GREETING": "hello"},
			Config: &structs.TaskConfig{Image: testImage, Pull: structs.PullNever, Command: "/bin/sh", Args: []string{"-c", script}}},
	}
}

// start starts cfg and fails the test when it cannot.
func start(t *testing.T, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	return h
}

// waitExit waits for the task's exit.
func waitExit(t *testing.T, d *Driver, id string, within time.Duration) *drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	ch, err := d.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := <-ch
	if !ok {
		t.Fatalf("task %s did not exit within %s", id, within)
	}
	return res
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
