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
)

// execOut runs cmd in the task and returns its stdout, failing the test on
// a non-zero exit.
func execOut(t *testing.T, d *Driver, id string, cmd ...string) string {
	t.Helper()
	res, err := d.ExecTask(context.Background(), id, cmd, 10*time.Second)
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exec %q: exit %d: %s", cmd, res.ExitCode, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// reachable gives every user passage (not listing) through the test's
// temp directories, as the client does for its data directory.
func reachable(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != "/tmp"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIsolatedTask: an exec task runs under its own init in PID, IPC, UTS
// and mount namespaces of its own; ExecTask's commands join them, so ps
// there shows the pod's processes only; the host name is the pod's; /tmp
// is private; the environment holds nothing of the agent's.
func TestIsolatedTask(t *testing.T) {
	d := newTestDriver(t)
	t.Setenv("MK_TEST_AGENT_SECRET", "leaked")
	cfg := testConfig(t, "/bin/sh", "-c", `echo private > /tmp/marker; (sleep 0.1 &); sleep 300`)
	cfg.Task.Env["MK_POD_NAME"] = "web.web[0]"
	h, err := d.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	initPID := handleState(t, h).PID
	eventually(t, 5*time.Second, "the task's private /tmp file", func() bool {
		_, err := os.Stat(filepath.Join(cfg.TaskDir, "tmp", "marker"))
		return err == nil
	})
	if _, err := os.Stat("/tmp/marker"); err == nil {
		t.Fatal("the task wrote the host's /tmp")
	}
	if got := execOut(t, d, cfg.ID, "cat", "/tmp/marker"); got != "private" {
		t.Fatalf("exec sees /tmp/marker = %q", got)
	}
	// init, the task's shell, its sleeps, and exec's own ps: no more.
	ps := execOut(t, d, cfg.ID, "ps", "-e", "-o", "pid=,stat=,args=")
	lines := strings.Split(ps, "\n")
	if len(lines) > 5 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "1 ") || !strings.Contains(lines[0], "exec-init") {
		t.Fatalf("ps in the task:\n%s", ps)
	}
	eventually(t, 5*time.Second, "the orphaned sleep reaped (no zombie)", func() bool {
		return !strings.Contains(execOut(t, d, cfg.ID, "ps", "-e", "-o", "stat="), "Z")
	})
	if got := execOut(t, d, cfg.ID, "hostname"); got != "web.web-0" {
		t.Fatalf("hostname = %q, want web.web-0", got)
	}
	env := execOut(t, d, cfg.ID, "env")
	if strings.Contains(env, "MK_TEST_AGENT_SECRET") || !strings.Contains(env, "PATH="+defaultPath) || !strings.Contains(env, "GREETING=hello") {
		t.Fatalf("the task's environment:\n%s", env)
	}
	for _, ns := range []string{"pid", "ipc", "uts", "mnt"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		task, err := os.Readlink("/proc/" + strconv.Itoa(initPID) + "/ns/" + ns)
		if err != nil || task == host {
			t.Fatalf("%s namespace of the task = %q (%v), the host's %q", ns, task, err, host)
		}
	}
	// SIGTERM reaches the task through init.
	if err := d.StopTask(cfg.ID, 5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d, cfg.ID, 5*time.Second); res.Signal != int(syscall.SIGTERM) {
		t.Fatalf("result = %+v, want killed by SIGTERM", res)
	}
}

// TestTaskRunsAsUser: user = "nobody" runs the task (and exec'd commands)
// as nobody, in a task directory and with log files that are its own,
// while the directory above (the exit files) stays root's.
func TestTaskRunsAsUser(t *testing.T) {
	for _, opt := range []struct {
		name string
		opts []Option
	}{{"isolated", nil}, {"raw", []Option{Raw()}}} {
		t.Run(opt.name, func(t *testing.T) {
			d := newTestDriver(t, opt.opts...)
			cfg := testConfig(t, "/bin/sh", "-c", `id -u > uid; echo to-log; sleep 300`)
			reachable(t, cfg.TaskDir)
			cfg.Task.User = "nobody"
			if _, err := d.StartTask(cfg); err != nil {
				t.Fatal(err)
			}
			uidFile := filepath.Join(cfg.TaskDir, "uid")
			eventually(t, 5*time.Second, "the task's uid file", func() bool {
				b, _ := os.ReadFile(uidFile)
				return strings.TrimSpace(string(b)) == "65534"
			})
			if got := execOut(t, d, cfg.ID, "id", "-u"); got != "65534" {
				t.Fatalf("exec runs as uid %s", got)
			}
			for _, p := range []string{cfg.TaskDir, cfg.StdoutPath, uidFile} {
				var st syscall.Stat_t
				if err := syscall.Stat(p, &st); err != nil || st.Uid != 65534 {
					t.Fatalf("%s: owner %d (%v), want nobody", p, st.Uid, err)
				}
			}
			if got := execOut(t, d, cfg.ID, "cat", cfg.StdoutPath); got != "to-log" {
				t.Fatalf("the task's own log reads %q", got)
			}
		})
	}
}

func TestUnknownUserFailsStart(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "/bin/true")
	cfg.Task.User = "no-such-user-mk"
	_, err := d.StartTask(cfg)
	if err == nil || !strings.Contains(err.Error(), `user "no-such-user-mk" does not exist on this node`) {
		t.Fatalf("err = %v", err)
	}
}

// TestSignalToInitReachesTheTask: `mk pod exec ID -- kill 1` (what the
// README suggests to end a task) makes init pass SIGTERM on to the task.
func TestSignalToInitReachesTheTask(t *testing.T) {
	d := newTestDriver(t)
	cfg := testConfig(t, "/bin/sh", "-c", "while true; do sleep 1; done")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	// The kill command itself may not see its own exit: once init has
	// passed the signal on and the task ended, the PID namespace ends,
	// and the kernel kills what still runs in it (exit 137).
	if res, err := d.ExecTask(context.Background(), cfg.ID, []string{"kill", "1"}, 10*time.Second); err != nil ||
		(res.ExitCode != 0 && res.ExitCode != 137) {
		t.Fatalf("exec kill 1: %+v, %v", res, err)
	}
	if res := waitResult(t, d, cfg.ID, 5*time.Second); res.Signal != int(syscall.SIGTERM) {
		t.Fatalf("result = %+v, want killed by SIGTERM", res)
	}
}
