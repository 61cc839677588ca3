package exec

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

// mountedAt reports whether process pid ("self" for the test) has a mount
// at target, from its mountinfo.
func mountedAt(t *testing.T, pid, target string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// Field 5 is the mount point.
		if f := strings.Fields(line); len(f) > 4 && f[4] == target {
			return true
		}
	}
	return false
}

// mountNS is the mount namespace of a process or thread ("self",
// "self/task/TID", a PID).
func mountNS(t *testing.T, proc string) string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + proc + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// writeFiles makes dir and writes files (name → content) into it.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startAndWaitReady starts cfg and waits for its stdout to say "ready".
func startAndWaitReady(t *testing.T, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the task to be ready", func() bool {
		return strings.Contains(readFile(t, cfg.StdoutPath), "ready\n")
	})
	return h
}

// TestVolumeMounts: a task sees its volumes at their destinations, writes
// through a mount land in the host directory, a read-only mount refuses
// them, and neither the host nor the driver's threads see the mounts.
func TestVolumeMounts(t *testing.T) {
	d := newTestDriver(t)
	hostNS := mountNS(t, "self")
	root := t.TempDir()
	src := writeFiles(t, filepath.Join(root, "volume"), map[string]string{"index.html": "hello from the volume\n"})
	roSrc := writeFiles(t, filepath.Join(root, "certs"), map[string]string{"ca.pem": "cert\n"})
	// Missing on the host: the driver creates them.
	dst, roDst := filepath.Join(root, "task", "srv"), filepath.Join(root, "task", "certs")
	cfg := testConfig(t, "/bin/sh", "-c", `cat "$DST/index.html" "$RO/ca.pem"; echo written > "$DST/out"
		if echo x 2>/dev/null > "$RO/x"; then echo ro-writable; else echo ro-refused; fi
		echo ready; exec sleep 300`)
	cfg.Task.Env["DST"], cfg.Task.Env["RO"] = dst, roDst
	cfg.Mounts = []*drivers.MountConfig{
		{Volume: "shared", HostPath: src, TaskPath: dst},
		{Volume: "certs", HostPath: roSrc, TaskPath: roDst, ReadOnly: true},
	}
	startAndWaitReady(t, d, cfg)
	if got, want := readFile(t, cfg.StdoutPath), "hello from the volume\ncert\nro-refused\nready\n"; got != want {
		t.Fatalf("stdout = %q, want %q (stderr %q)", got, want, readFile(t, cfg.StderrPath))
	}
	if got := readFile(t, filepath.Join(src, "out")); got != "written\n" {
		t.Fatalf("write through the mount: host file = %q", got)
	}
	if _, err := os.Stat(filepath.Join(roSrc, "x")); !os.IsNotExist(err) {
		t.Fatalf("a write through a read-only mount reached the host: %v", err)
	}
	for _, p := range []string{dst, roDst} {
		if entries, err := os.ReadDir(p); err != nil || len(entries) != 0 {
			t.Fatalf("destination %s on the host = %v, %v; want an empty directory", p, entries, err)
		}
	}
	st, err := d.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(st.PID)
	if !mountedAt(t, pid, dst) || !mountedAt(t, pid, roDst) || mountNS(t, pid) == hostNS {
		t.Fatalf("the task has no mount namespace of its own with the mounts:\n%s", readFile(t, "/proc/"+pid+"/mountinfo"))
	}
	if mountedAt(t, "self", dst) || mountedAt(t, "self", roDst) {
		t.Fatal("the host's mount table shows the task's mounts")
	}

	// ExecTask's commands join the task's namespace...
	out, err := d.ExecTask(context.Background(), cfg.ID, []string{"sh", "-c", `cat "$DST/out"; touch "$RO/y"`}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Stdout) != "written\n" || out.ExitCode == 0 || !strings.Contains(string(out.Stderr), "Read-only") {
		t.Fatalf("exec in the task = %+v (stderr %q)", out, out.Stderr)
	}
	// ... from a thread that ends: none of the driver's stays in it.
	eventually(t, 5*time.Second, "every thread of the driver in the host's namespace", func() bool {
		tids, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, tid := range tids {
			if ns, err := os.Readlink("/proc/self/task/" + tid.Name() + "/ns/mnt"); err == nil && ns != hostNS {
				return false
			}
		}
		return true
	})
}

// TestTaskWithoutMountsStaysInHostNamespace: no mounts, no namespace.
func TestTaskWithoutMountsStaysInHostNamespace(t *testing.T) {
	d := newTestDriver(t, Raw())
	cfg := testConfig(t, "sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	st, err := d.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mountNS(t, strconv.Itoa(st.PID)), mountNS(t, "self"); got != want {
		t.Fatalf("task's mount namespace = %s, want the host's %s", got, want)
	}
}

// sharedTmpfs mounts a tmpfs at dir and makes it shared, as systemd makes
// a host's mounts: what is mounted below it in one peer propagates to the
// others, unless a namespace's copy was made a slave or private.
func sharedTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("mk-test", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		t.Fatalf("make tmpfs shared: %v", err)
	}
}

// TestMountNamespaceIsSlaveOfHost: a task's mount below a shared host
// mount does not propagate to the host, while the host's mounts and
// unmounts there reach the task.
func TestMountNamespaceIsSlaveOfHost(t *testing.T) {
	d := newTestDriver(t, Raw())
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	sharedTmpfs(t, shared)
	dst, later := filepath.Join(shared, "dst"), filepath.Join(shared, "later")
	if err := os.Mkdir(later, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "/bin/sh", "-c", "echo ready; exec sleep 300")
	cfg.Mounts = []*drivers.MountConfig{{Volume: "v", HostPath: writeFiles(t, filepath.Join(root, "v"), nil), TaskPath: dst}}
	startAndWaitReady(t, d, cfg)
	st, err := d.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(st.PID)
	if !mountedAt(t, pid, dst) {
		t.Fatal("the task has no mount at its destination")
	}
	if mountedAt(t, "self", dst) {
		t.Fatal("the task's mount propagated to the host")
	}
	if err := syscall.Mount("mk-test-later", later, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the host's new mount in the task", func() bool { return mountedAt(t, pid, later) })
	if err := syscall.Unmount(later, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the host's unmount in the task", func() bool { return !mountedAt(t, pid, later) })
}

// TestCommandWorkDirAndUserThroughMounts: the command and working
// directory are found through the mounts, a mount inside another's
// destination is made in it, and the mounts, made as root, serve a task
// that runs as a user.
func TestCommandWorkDirAndUserThroughMounts(t *testing.T) {
	d := newTestDriver(t)
	root := t.TempDir()
	app := writeFiles(t, filepath.Join(root, "app"), map[string]string{"run.sh": "#!/bin/sh\npwd; cat data/note; id -u\n"})
	data := writeFiles(t, filepath.Join(root, "data"), map[string]string{"note": "nested\n"})
	dst := filepath.Join(root, "task", "app")
	cfg := testConfig(t, filepath.Join(dst, "run.sh"))
	cfg.Task.Config.WorkDir = dst
	cfg.Task.User = "nobody"
	cfg.Mounts = []*drivers.MountConfig{
		// Out of order: the driver mounts parents first.
		{Volume: "data", HostPath: data, TaskPath: filepath.Join(dst, "data"), ReadOnly: true},
		{Volume: "app", HostPath: app, TaskPath: dst},
	}
	// t.TempDir's directories are 0700: let nobody in.
	for _, p := range []string{filepath.Dir(root), root, filepath.Dir(cfg.TaskDir), cfg.TaskDir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, cfg.ID, 10*time.Second); !res.Successful() {
		t.Fatalf("result = %+v, stderr %q", res, readFile(t, cfg.StderrPath))
	}
	if got, want := readFile(t, cfg.StdoutPath), dst+"\nnested\n65534\n"; got != want {
		t.Fatalf("stdout = %q, want %q", got, want)
	}
	// The nested destination was made in the volume above it, not on the
	// host, where the outer destination stays empty.
	if err := isDir(filepath.Join(app, "data")); err != nil {
		t.Fatalf("nested destination in the outer volume: %v", err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Fatalf("host destination %s holds %v", dst, entries)
	}
}

// TestRecoverTaskWithMounts: a task with mounts is recovered by a new
// driver, whose ExecTask joins its namespace, and whose stop ends it.
func TestRecoverTaskWithMounts(t *testing.T) {
	d1 := newTestDriver(t)
	root := t.TempDir()
	src := writeFiles(t, filepath.Join(root, "v"), map[string]string{"f": "in the volume\n"})
	dst := filepath.Join(root, "task", "v")
	cfg := testConfig(t, "/bin/sh", "-c", "echo ready; exec sleep 300")
	cfg.Mounts = []*drivers.MountConfig{{Volume: "v", HostPath: src, TaskPath: dst, ReadOnly: true}}
	h := startAndWaitReady(t, d1, cfg)

	d2 := newTestDriver(t)
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	out, err := d2.ExecTask(context.Background(), cfg.ID, []string{"cat", filepath.Join(dst, "f")}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Stdout) != "in the volume\n" || out.ExitCode != 0 {
		t.Fatalf("exec in the recovered task = %+v (stderr %q)", out, out.Stderr)
	}
	if err := d2.StopTask(cfg.ID, 5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d2, cfg.ID, 5*time.Second); res.Signal != int(syscall.SIGTERM) || res.Err != nil {
		t.Fatalf("result = %+v, want stopped by SIGTERM", res)
	}
}

// TestMountStartErrors: a mount that cannot be made fails StartTask with
// the volume and the destination named, and leaves no task behind.
func TestMountStartErrors(t *testing.T) {
	d := newTestDriver(t, Raw())
	root := t.TempDir()
	src := writeFiles(t, filepath.Join(root, "v"), map[string]string{"file": ""})
	file := filepath.Join(src, "file")
	cases := []struct {
		name   string
		mounts []*drivers.MountConfig
		want   string
	}{
		{"destination is a file", []*drivers.MountConfig{{Volume: "v", HostPath: src, TaskPath: file}},
			`volume "v": destination ` + file + ": not a directory"},
		{"source missing", []*drivers.MountConfig{{Volume: "v", HostPath: filepath.Join(root, "gone"), TaskPath: filepath.Join(root, "d")}},
			`volume "v": source ` + filepath.Join(root, "gone") + ": no such file or directory"},
		{"source is a file", []*drivers.MountConfig{{Volume: "v", HostPath: file, TaskPath: filepath.Join(root, "d")}},
			`volume "v": source ` + file + ": not a directory"},
		{"relative destination", []*drivers.MountConfig{{Volume: "v", HostPath: src, TaskPath: "srv"}},
			`volume "v": destination "srv" must be an absolute path`},
		{"the root", []*drivers.MountConfig{{Volume: "v", HostPath: src, TaskPath: "/"}},
			`volume "v": destination "/" must be an absolute path below /`},
		{"same destination twice", []*drivers.MountConfig{
			{Volume: "a", HostPath: src, TaskPath: filepath.Join(root, "d")},
			{Volume: "b", HostPath: src, TaskPath: filepath.Join(root, "d") + "/"},
		}, `volumes "a" and "b" are both mounted at ` + filepath.Join(root, "d")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "true")
			cfg.Mounts = tc.mounts
			_, err := d.StartTask(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
			if _, err := d.InspectTask(cfg.ID); err == nil {
				t.Fatal("failed task left behind")
			}
			if _, err := os.Stat(filepath.Join(root, "d")); !os.IsNotExist(err) {
				t.Fatalf("a failed start made a destination: %v", err)
			}
		})
	}
}

// TestWaiterReportsMountError: a mount that fails in the waiter (here its
// source went away after the driver's checks) fails the start, naming
// the volume and the destination.
func TestWaiterReportsMountError(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	dst := filepath.Join(root, "dst")
	cfg := testConfig(t, "touch", "ran")
	cfg.Mounts = []*drivers.MountConfig{{Volume: "shared", HostPath: writeFiles(t, filepath.Join(root, "v"), nil), TaskPath: dst}}
	spec, stdout, stderr := testSpec(t, cfg)
	spec.Mounts[0].Source = filepath.Join(root, "gone")
	l, err := launch(spec, stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readTaskPID(l.ctl)
	if want := `mount volume "shared" at ` + dst + ": no such file or directory"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one with %q", err, want)
	}
	l.abort()
	if _, err := os.Stat(filepath.Join(cfg.TaskDir, "ran")); !os.IsNotExist(err) {
		t.Fatalf("the command ran: %v", err)
	}
}

// TestMountTableHostPath: paths in the task map to the host through the
// deepest mount that holds them; mounts sort parents first.
func TestMountTableHostPath(t *testing.T) {
	table, err := newMountTable([]*drivers.MountConfig{
		{Volume: "data", HostPath: "/vol/data/", TaskPath: "/srv/data"},
		{Volume: "srv", HostPath: "/vol/srv", TaskPath: "/srv/"},
		{Volume: "other", HostPath: "/vol/other", TaskPath: "/srv-other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range table {
		order = append(order, m.Target)
	}
	if got := strings.Join(order, " "); got != "/srv /srv-other /srv/data" {
		t.Fatalf("order = %s", got)
	}
	for in, want := range map[string]string{
		"/srv":              "/vol/srv",
		"/srv/index.html":   "/vol/srv/index.html",
		"/srv/data":         "/vol/data",
		"/srv/data/x/../y":  "/vol/data/y",
		"/srv-other/z":      "/vol/other/z",
		"/srvx":             "/srvx",
		"/etc/passwd":       "/etc/passwd",
		"/srv/data2/a":      "/vol/srv/data2/a",
		"/srv/./data//file": "/vol/data/file",
	} {
		if got := table.hostPath(in); got != want {
			t.Errorf("hostPath(%s) = %s, want %s", in, got, want)
		}
	}
	if got := mountTable(nil).hostPath("/a/b"); got != "/a/b" {
		t.Errorf("no mounts: hostPath = %s", got)
	}
}
