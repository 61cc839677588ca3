package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// TestPodExecAndStatsOnClientAgents runs one server agent and two
// client-only agents as processes, with the exec driver as a plugin. Exec
// and stats of each pod, asked of the server or of either client by ID
// prefix, reach the client that runs the pod: the command runs in the
// task's environment, the sample shows the task's memory and limits.
func TestPodExecAndStatsOnClientAgents(t *testing.T) {
	servers := testutil.NewProcessCluster(t, 1)
	srvAddr := servers.Agents[0].HTTPAddr
	c1 := testutil.NewClientOnlyAgent(t, "client-1", srvAddr)
	c2 := testutil.NewClientOnlyAgent(t, "client-2", srvAddr)
	apis := map[string]*api.Client{
		"server":   clientAt(t, servers.Agents[0].Addr()),
		"client-1": clientAt(t, c1.Addr()),
		"client-2": clientAt(t, c2.Addr()),
	}
	srv := apis["server"]
	waitReadyNodes(t, srv, 2)

	job := sleeperJob("shell", 2)
	job.Meta["mk.scheduler"] = "spread"
	runJob(t, srv, job)
	pods := waitPods(t, srv, "shell", 2, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })
	// Client-only agents leave their pods running when they stop: stop the
	// job first (cleanups run in reverse order).
	t.Cleanup(func() { stopJobAndWait(t, srv, "shell", pods) })
	if pods[0].NodeID == pods[1].NodeID {
		t.Fatalf("both pods on node %s, want one per client", pods[0].NodeName)
	}
	for _, p := range pods {
		for via, cl := range apis {
			ref := p.ID[:8]
			res, err := cl.PodExec(context.Background(), ref, &structs.PodExecBody{
				Command: []string{"sh", "-c", `echo $MK_POD_NAME; echo on stderr >&2; exit 3`}})
			if err != nil {
				t.Fatalf("exec in %s (on %s) via %s: %v", p.Name, p.NodeName, via, err)
			}
			if res.Stdout != p.Name+"\n" || res.Stderr != "on stderr\n" || res.ExitCode != 3 {
				t.Fatalf("exec in %s (on %s) via %s = %+v", p.Name, p.NodeName, via, res)
			}
			stats, err := cl.PodStats(context.Background(), ref)
			if err != nil {
				t.Fatalf("stats of %s (on %s) via %s: %v", p.Name, p.NodeName, via, err)
			}
			ts := stats.Tasks["main"]
			if stats.NodeID != p.NodeID || ts == nil || ts.Usage == nil || ts.Usage.MemoryUsage == 0 || ts.Limits.MemoryMB != 64 {
				t.Fatalf("stats of %s (on %s) via %s = %+v", p.Name, p.NodeName, via, stats)
			}
			_, err = cl.PodExec(context.Background(), ref, &structs.PodExecBody{Task: "nope", Command: []string{"true"}})
			if apiErr := (*api.Error)(nil); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
				t.Fatalf("exec in an unknown task of %s via %s: %v, want 404", p.Name, via, err)
			}
		}
	}

	// A caller that goes away takes its command with it, at once rather
	// than at the command's timeout, also through the server's forwarding.
	const marker = "sleep 61.25"
	running := func() []int { return testutil.PIDsEndingWith(marker) } // the driver runs it by its full path
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	execErr := make(chan error, 1)
	go func() {
		_, err := srv.PodExec(ctx, pods[0].ID[:8], &structs.PodExecBody{Command: []string{"sleep", "61.25"}, Timeout: "2m"})
		execErr <- err
	}()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return len(running()) == 1, fmt.Errorf("exec'd %q is not running", marker)
	})
	cancel()
	if err := <-execErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("exec whose caller went away: %v, want context.Canceled", err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return len(running()) == 0, fmt.Errorf("exec'd %q still runs (pids %v) after its caller went away", marker, running())
	})
}

// stopJobAndWait stops a job and waits until the processes of its pods'
// tasks are gone.
func stopJobAndWait(t *testing.T, cl *api.Client, job string, pods []*structs.Pod) {
	t.Helper()
	if _, err := cl.DeregisterJob(context.Background(), job, false); err != nil {
		t.Errorf("stop job %s: %v", job, err)
		return
	}
	for _, p := range pods {
		pid := taskPID(p)
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			return syscall.Kill(pid, 0) != nil, fmt.Errorf("pid %d of pod %s still runs after its job stopped", pid, p.Name)
		})
	}
}

// TestCLIPodExecStreaming runs `mk pod exec -i` and `-i -t` against a dev
// agent (the exec driver as a plugin): input goes in, output comes out as
// the command writes it, mk exits with the command's exit code, and mk
// going away (killed, or interrupted) kills the command.
func TestCLIPodExecStreaming(t *testing.T) {
	addr := devAgent(t)
	cl := clientAt(t, addr)
	runJob(t, cl, sleeperJob("shell", 1))
	pod := waitPods(t, cl, "shell", 1, func(p *structs.Pod) bool { return running(p) && taskPID(p) > 0 })[0]

	t.Run("stdin", func(t *testing.T) {
		cmd := mkCommand(t, addr, "pod", "exec", "-i", pod.ID[:8], "--", "/bin/sh")
		cmd.Stdin = strings.NewReader("echo hi; exit 3\n")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 3 || stdout.String() != "hi\n" || stderr.String() != "" {
			t.Fatalf("mk pod exec -i: %v, stdout %q, stderr %q; want exit 3 and \"hi\\n\"", err, stdout.String(), stderr.String())
		}
	})
	t.Run("local terminal", func(t *testing.T) { checkLocalTerminal(t, addr, pod) })
	t.Run("terminal, mk killed", func(t *testing.T) {
		const marker = "mk-e2e-terminal"
		mk, out := startStreamingExec(t, addr, pod, marker, "-i", "-t")
		if err := mk.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = mk.Wait()
		waitGone(t, marker, "mk was killed")
		if !strings.Contains(out.String(), "ready\r\n") {
			t.Fatalf("output %q, want ready on a terminal", out.String())
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		const marker = "mk-e2e-interrupted"
		mk, _ := startStreamingExec(t, addr, pod, marker, "-i")
		if err := mk.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if err := mk.Wait(); mk.ProcessState.ExitCode() != 1 {
			t.Fatalf("mk pod exec -i after Ctrl-C: %v, want exit 1", err)
		}
		waitGone(t, marker, "mk was interrupted")
	})
}

// checkLocalTerminal runs `mk pod exec -i -t` on a terminal of its own,
// as a user does: mk puts it in raw mode, the command's terminal takes
// its size and follows it when it changes (SIGWINCH), keys go through,
// and mk restores the terminal when the command exits.
func checkLocalTerminal(t *testing.T, addr string, pod *structs.Pod) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	canonical := func() bool {
		tios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		return err == nil && tios.Lflag&unix.ICANON != 0
	}
	mk := mkCommand(t, addr, "pod", "exec", "-i", "-t", pod.ID[:8], "--", "/bin/sh")
	mk.Stdin, mk.Stdout, mk.Stderr = tty, tty, tty
	mk.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true} // its controlling terminal: SIGWINCH
	if err := mk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mk.Process.Kill() })
	var out syncbuf.Buffer
	go func() { _, _ = io.Copy(&out, ptmx) }()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return !canonical(), errors.New("mk did not put its terminal in raw mode")
	})
	// A size goes beside the input, not before it: ask until it shows.
	askSize := func(want string) {
		testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
			if _, err := io.WriteString(ptmx, "stty size\r"); err != nil {
				return false, err
			}
			return strings.Contains(out.String(), want), fmt.Errorf("output %q, want size %s", out.String(), want)
		})
	}
	askSize("40 100")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	askSize("50 120")
	if _, err := io.WriteString(ptmx, "exit 5\r"); err != nil {
		t.Fatal(err)
	}
	if err := mk.Wait(); mk.ProcessState.ExitCode() != 5 {
		t.Fatalf("mk pod exec -i -t: %v, want exit 5; output %q", err, out.String())
	}
	if !canonical() {
		t.Fatal("mk left its terminal in raw mode")
	}
}

// startStreamingExec starts `mk pod exec` with flags and a command that
// says "ready", then waits for input, and waits until its output has come
// while the command still runs. The command's shell is named marker.
func startStreamingExec(t *testing.T, addr string, pod *structs.Pod, marker string, flags ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	args := append(append([]string{"pod", "exec"}, flags...), pod.ID[:8], "--", "/bin/sh", "-c", "echo ready; read line", marker)
	mk := mkCommand(t, addr, args...)
	stdin, err := mk.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out := &syncbuf.Buffer{}
	mk.Stdout, mk.Stderr = out, out
	if err := mk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mk.Process.Kill() })
	// mk's own command line ends with marker too.
	shells := func() []int {
		return slices.DeleteFunc(testutil.PIDsEndingWith(marker), func(pid int) bool { return pid == mk.Process.Pid })
	}
	testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
		return strings.Contains(out.String(), "ready") && len(shells()) == 1,
			fmt.Errorf("output %q and pids %v of %s, want ready while it runs", out.String(), shells(), marker)
	})
	return mk, out
}

// waitGone waits until no process's command line ends with marker (mk's
// must be gone already).
func waitGone(t *testing.T, marker, why string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		pids := testutil.PIDsEndingWith(marker)
		return len(pids) == 0, fmt.Errorf("exec'd %s still runs (pids %v) after %s", marker, pids, why)
	})
}
