package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/drivers"
)

func TestRecoverTaskInNewDriver(t *testing.T) {
	d1 := newTestDriver(t)
	cfg := testConfig(t, "/bin/sh", "-c", `while :; do echo tick; sleep 0.05; done`)
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := d1.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}

	// A new driver instance knows nothing until the handle is recovered.
	d2 := newTestDriver(t)
	if _, err := d2.InspectTask(cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("err = %v, want ErrTaskNotFound", err)
	}
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if err := d2.RecoverTask(h); err != nil {
		t.Fatalf("recovering twice: %v", err)
	}
	st2, err := d2.InspectTask(cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st2.State != drivers.TaskStateRunning || st2.PID != st1.PID || st2.StartedAt != st1.StartedAt {
		t.Fatalf("recovered status = %+v, want running pid %d", st2, st1.PID)
	}

	// Stats and exec work on the recovered task: its cgroup was loaded.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stats, err := d2.TaskStats(ctx, cfg.ID, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if u := <-stats; u == nil || u.MemoryUsage == 0 {
		t.Fatalf("stats of recovered task = %+v", u)
	}
	out, err := d2.ExecTask(context.Background(), cfg.ID, []string{"cat", "/proc/self/cgroup"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.Stdout), cgroupName(cfg.ID)) {
		t.Fatalf("exec ran outside the task cgroup: %s", out.Stdout)
	}

	// Killed from outside, the recovered task's exit is seen, with the
	// signal (its waiter, not the driver, is its parent).
	ch, err := d2.WaitTask(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st1.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-ch:
		if res == nil || res.Err != nil || res.Signal != int(syscall.SIGKILL) {
			t.Fatalf("result = %+v, want killed by SIGKILL", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("recovered task's exit not seen")
	}
	st3, _ := d2.InspectTask(cfg.ID)
	if st3.State != drivers.TaskStateExited {
		t.Fatalf("state = %s", st3.State)
	}
}

func TestRecoverStoppedBySignal(t *testing.T) {
	d1 := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d2 := newTestDriver(t)
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if err := d2.StopTask(cfg.ID, 5*time.Second, "SIGINT"); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, d2, cfg.ID, time.Second)
	if res.Signal != int(syscall.SIGINT) || res.Err != nil {
		t.Fatalf("result = %+v, want killed by the signal the driver sent", res)
	}
}

func TestRecoverRejectsReusedOrDeadPID(t *testing.T) {
	d1 := newTestDriver(t)
	cfg := testConfig(t, "sleep", "300")
	h, err := d1.StartTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeDriverState(h.DriverState)
	if err != nil {
		t.Fatal(err)
	}

	// Same PID, other start time: another process now owns the PID.
	forged := *st
	forged.StartTime++
	b, _ := forged.encode()
	d2 := newTestDriver(t)
	err = d2.RecoverTask(&drivers.TaskHandle{Driver: Name, Config: cfg, DriverState: b})
	if err == nil || !strings.Contains(err.Error(), "reused") {
		t.Fatalf("err = %v, want PID reuse refused", err)
	}
	if err := d2.RecoverTask(&drivers.TaskHandle{Driver: "docker", Config: cfg, DriverState: h.DriverState}); err == nil {
		t.Fatal("recovered another driver's handle")
	}

	// Stopped, the task is recovered as exited while its exit file is
	// there; once destroyed, not at all.
	if err := d1.StopTask(cfg.ID, time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if res := waitResult(t, d2, cfg.ID, time.Second); res.Signal != int(syscall.SIGTERM) || res.Err != nil {
		t.Fatalf("result = %+v, want SIGTERM", res)
	}
	if err := d1.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := newTestDriver(t).RecoverTask(h); err == nil {
		t.Fatal("recovered a dead task")
	}
}

func TestStatsAndExec(t *testing.T) {
	d := newTestDriver(t)
	// A busy loop in the shell uses CPU and some memory.
	cfg := testConfig(t, "/bin/sh", "-c", `while :; do :; done`)
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stats, err := d.TaskStats(ctx, cfg.ID, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var last *drivers.TaskResourceUsage
	for i := 0; i < 3; i++ {
		last = <-stats
	}
	if last == nil || last.CPUPercent < 10 || last.MemoryUsage == 0 || last.CPUTotalNanos == 0 {
		t.Fatalf("stats = %+v, want a busy task", last)
	}
	cancel()
	eventually(t, 5*time.Second, "the stats channel to close", func() bool {
		_, ok := <-stats
		return !ok
	})

	res, err := d.ExecTask(context.Background(), cfg.ID, []string{"/bin/sh", "-c", `echo $GREETING $MK_TASK; pwd; echo oops >&2; exit 4`}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("hello web\n%s\n", cfg.TaskDir)
	if string(res.Stdout) != want || string(res.Stderr) != "oops\n" || res.ExitCode != 4 {
		t.Fatalf("exec = %q %q %d, want %q", res.Stdout, res.Stderr, res.ExitCode, want)
	}
	res, err = d.ExecTask(context.Background(), cfg.ID, []string{"no-such-command"}, 5*time.Second)
	if err != nil || res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "not found") {
		t.Fatalf("exec of a missing command = %+v, %v; want exit 127 naming it", res, err)
	}
	start := time.Now()
	if _, err := d.ExecTask(context.Background(), cfg.ID, []string{"sleep", "30"}, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("exec timeout did not kill the command")
	}
}

func TestRotateCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "stdout.log")
	cfg := LogConfig{MaxBytes: 10, MaxFiles: 3, CheckInterval: time.Millisecond}
	f, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "dd"} {
		if _, err := f.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
		if err := rotateIfLarge(p, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// The writer keeps appending to the truncated file at its new end.
	want := map[string]string{p: "dd", p + ".1": "cccccccccccc", p + ".2": "bbbbbbbbbbbb"}
	for path, content := range want {
		if got := readFile(t, path); got != content {
			t.Fatalf("%s = %q, want %q", filepath.Base(path), got, content)
		}
	}
	if _, err := os.Stat(p + ".3"); !os.IsNotExist(err) {
		t.Fatalf("kept more than %d files", cfg.MaxFiles)
	}
}

func TestRotatorRotatesTaskLogs(t *testing.T) {
	requireRoot(t)
	d := New(testLogger(t), WithLogConfig(LogConfig{MaxBytes: 4096, MaxFiles: 2, CheckInterval: 20 * time.Millisecond}))
	cfg := testConfig(t, "/bin/sh", "-c", `i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); sleep 0.001; done`)
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.DestroyTask(cfg.ID, true) })
	if res := waitResult(t, d, cfg.ID, 20*time.Second); !res.Successful() {
		t.Fatalf("result = %+v", res)
	}
	if err := d.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	rotated := readFile(t, cfg.StdoutPath+".1")
	if !strings.Contains(rotated, "line-") {
		t.Fatal("no rotated log file")
	}
	if fi, err := os.Stat(cfg.StdoutPath); err != nil || fi.Size() >= 4096 {
		t.Fatalf("live log not rotated below MaxBytes: %v %v", fi.Size(), err)
	}
	if !strings.Contains(readFile(t, cfg.StdoutPath)+rotated, "line-399") {
		t.Fatal("last line lost")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "hup": syscall.SIGHUP, "9": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1,
	} {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSignal("SIGNOPE"); err == nil {
		t.Error("parseSignal accepted SIGNOPE")
	}
}
