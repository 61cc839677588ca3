package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Proc is a process as /proc shows it.
type Proc struct {
	PID, PPID int
	// Cmdline is the command line with its arguments joined by spaces.
	Cmdline string
	Environ []string
}

// Procs lists the processes of the machine; those that end while being
// read are left out.
func Procs() []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and
		// may hold spaces: state, then the parent's PID.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
		out = append(out, Proc{
			PID: pid, PPID: ppid,
			Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")),
			Environ: strings.Split(string(environ), "\x00"),
		})
	}
	return out
}

// ChildPIDs lists the processes whose parent is pid and whose command
// line contains substr.
func ChildPIDs(pid int, substr string) []int {
	var out []int
	for _, p := range Procs() {
		if p.PPID == pid && strings.Contains(p.Cmdline, substr) {
			out = append(out, p.PID)
		}
	}
	return out
}

// PIDsEndingWith lists the processes whose command line ends with
// suffix: a command a test started with a marker argument, as "sleep
// 61.25", whatever path it was run by.
func PIDsEndingWith(suffix string) []int {
	var out []int
	for _, p := range Procs() {
		if strings.HasSuffix(p.Cmdline, suffix) {
			out = append(out, p.PID)
		}
	}
	return out
}

// KillTasksUnder kills the process group of every task whose task
// directory is under dir (its MK_TASK_DIR), so an agent a test stopped
// does not leave its tasks behind.
func KillTasksUnder(dir string) {
	want := "MK_TASK_DIR=" + dir
	for _, p := range Procs() {
		for _, kv := range p.Environ {
			if strings.HasPrefix(kv, want) {
				_ = syscall.Kill(-p.PID, syscall.SIGKILL)
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
				break
			}
		}
	}
}

// UnmountUnder unmounts what is mounted below dir: the network
// namespaces a client pins in its data dir (<data_dir>/client/netns),
// which a client stopped without Destroy (SIGTERM of a non-dev agent,
// SIGKILL) leaves for the next client to adopt. Call it after
// KillTasksUnder: a namespace with no process left goes with its links.
func UnmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mount-point ...
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			_ = syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}

// HostDir is a temporary directory that exec tasks see too: t.TempDir is
// under /tmp, which every isolated task has a private one of. It is
// removed when the test ends.
func HostDir(t testing.TB) string {
	t.Helper()
	if err := os.MkdirAll("/var/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "mk-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
