package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
)

// writeJob writes a job file into a temp dir and returns its path.
func writeJob(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// execJob is a one-group exec job; extra goes into the group.
func execJob(name, typ string, count int, script, extra string) string {
	return fmt.Sprintf(`job %q {
  type = %q
  group %q {
    count = %d
%s
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, name, typ, name, count, extra, script)
}

// TestJobRunTellsTheTruth: job run reports a crash loop as it happens,
// exits 2 with the reason once the restart policy gives up, waits out
// min_healthy_time before it says a service is healthy, and is bounded
// by healthy_deadline.
func TestJobRunTellsTheTruth(t *testing.T) {
	addr := devAgent(t)
	t.Run("crash loop exits 2 with the reason", func(t *testing.T) {
		job := writeJob(t, "crash.hcl", execJob("crash", "service", 2,
			`echo 'bind: Address already in use' >&2; exit 1`,
			"restart {\n attempts = 1\n interval = \"1m\"\n delay = \"1s\"\n mode = \"fail\"\n}\nupdate {\n min_healthy_time = \"1s\"\n}"))
		start := time.Now()
		stdout, stderr, code := runMk(t, addr, "job", "run", job)
		if code != 2 {
			t.Fatalf("exit %d after %s, want 2\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), stdout, stderr)
		}
		restart := `task "t" exit code 1 (bind: Address already in use) — restarting in 1s`
		if !strings.Contains(stdout, restart) {
			t.Errorf("stdout does not report the restart %q:\n%s", restart, stdout)
		}
		reason := "failed: exit code 1 (bind: Address already in use), restart attempts exhausted"
		if !strings.Contains(stderr, reason) {
			t.Errorf("stderr does not give the reason %q:\n%s", reason, stderr)
		}
		list, _, _ := runMk(t, addr, "pod", "list", "-job", "crash")
		if !strings.Contains(list, "restart attempts exhausted") {
			t.Errorf("pod list shows no reason:\n%s", list)
		}
	})
	t.Run("min_healthy_time is waited out on every version", func(t *testing.T) {
		src := execJob("steady", "service", 2, "echo v1; sleep 3600", "update {\n min_healthy_time = \"3s\"\n}")
		job := writeJob(t, "steady.hcl", src)
		// The first version is placed; the second is a rollout, followed
		// to its end.
		for _, step := range []struct{ version, final string }{
			{"v1", "==> steady: 2/2 healthy"},
			{"v2", `==> group "steady" version 1: successful`},
		} {
			version := step.version
			if err := os.WriteFile(job, []byte(strings.Replace(src, "v1", version, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			stdout, stderr, code := runMk(t, addr, "job", "run", job)
			took := time.Since(start)
			if code != 0 || !strings.Contains(stdout, step.final) {
				t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", version, code, stdout, stderr)
			}
			if took < 3*time.Second {
				t.Fatalf("%s: healthy after %s, before min_healthy_time 3s", version, took)
			}
		}
	})
	t.Run("bounded by healthy_deadline", func(t *testing.T) {
		job := writeJob(t, "slow.hcl", execJob("slow", "service", 1, "sleep 3600",
			"update {\n min_healthy_time = \"30s\"\n healthy_deadline = \"2s\"\n}"))
		stdout, stderr, code := runMk(t, addr, "job", "run", job)
		if code != 2 || !strings.Contains(stderr, `job "slow" not healthy within 2s: slow: 0/1 healthy, 1 running`) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})
	t.Run("progress off a terminal", func(t *testing.T) {
		job := writeJob(t, "long.hcl", execJob("long", "batch", 1, "sleep 12", ""))
		stdout, stderr, code := runMk(t, addr, "job", "run", job)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		// At least one line when the pod starts running and one more after
		// ten quiet seconds.
		if n := strings.Count(stdout, "    long: 0/1 succeeded, 1 running\n"); n < 2 {
			t.Fatalf("%d progress lines while the batch pod ran, want >= 2:\n%s", n, stdout)
		}
		if !strings.HasSuffix(stdout, "==> long: 1/1 succeeded\n") {
			t.Fatalf("no final line:\n%s", stdout)
		}
	})
	t.Run("ctrl-c leaves the job running", func(t *testing.T) {
		job := writeJob(t, "wait.hcl", execJob("waiting", "service", 1, "sleep 3600", "update {\n min_healthy_time = \"60s\"\n}"))
		cmd := exec.Command(testutil.MkBinary(t), "job", "run", "-address", addr, job)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && !strings.Contains(sc.Text(), "1 running") {
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
		}
		err = cmd.Wait()
		want := `job "waiting" keeps running; mk job status waiting / mk job stop waiting`
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), want) {
			t.Fatalf("err %v, stderr %q, want exit 130 and %q", err, stderr.String(), want)
		}
		status, _, _ := runMk(t, addr, "job", "status", "waiting")
		if !strings.Contains(status, "running") {
			t.Fatalf("the job does not keep running:\n%s", status)
		}
	})
}

// TestPodExecSeesOnlyThePod: on `mk agent -dev`, `mk pod exec ID -- ps`
// in a pod of the make dev job lists the pod's processes only (its init
// as PID 1, the task and ps itself), and its host name is the pod's.
func TestPodExecSeesOnlyThePod(t *testing.T) {
	addr := devAgent(t)
	if stdout, stderr, code := runMk(t, addr, "job", "run", "hello-exec.hcl"); code != 0 {
		t.Fatalf("job run: exit %d\n%s%s", code, stdout, stderr)
	}
	list, _, _ := runMk(t, addr, "pod", "list", "-job", "hello")
	var pod string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "hello.hello[0]" {
			pod = f[0]
		}
	}
	if pod == "" {
		t.Fatalf("no pod hello.hello[0]:\n%s", list)
	}
	ps, stderr, code := runMk(t, addr, "pod", "exec", pod, "--", "ps", "-e", "-o", "pid=,args=")
	if code != 0 {
		t.Fatalf("pod exec ps: exit %d: %s", code, stderr)
	}
	for i, line := range strings.Split(strings.TrimSpace(ps), "\n") {
		f := strings.Fields(line)
		args := strings.Join(f[1:], " ")
		switch {
		case i == 0 && f[0] == "1" && strings.HasSuffix(args, "plugin exec-init"):
		case strings.Contains(args, "hello from"), strings.HasPrefix(args, "sleep "), strings.HasSuffix(f[1], "ps") && strings.HasPrefix(strings.Join(f[2:], " "), "-e -o"):
		default:
			t.Fatalf("ps in the pod shows a process that is not the pod's, %q:\n%s", line, ps)
		}
	}
	if host, _, _ := runMk(t, addr, "pod", "exec", pod, "--", "hostname"); host != "hello.hello-0\n" {
		t.Fatalf("hostname in the pod = %q", host)
	}
}
