package docker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
)

// crash drops everything the driver follows without touching the
// containers, as a killed plugin process would.
func crash(d *Driver) {
	d.mu.Lock()
	tasks := d.tasks
	d.tasks = map[string]*task{}
	d.mu.Unlock()
	for _, t := range tasks {
		t.cancel()
		<-t.done
		t.logs.stop()
	}
}

func TestRecoverKeepsContainerAndLogs(t *testing.T) {
	d1 := newTestDriver(t, Config{})
	cfg := taskConfig(t, "counter", `i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i; sleep 0.05; done; exit 4`)
	h := start(t, d1, cfg)
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		return strings.Count(readFile(t, cfg.StdoutPath), "\n") >= 5, nil
	})
	crash(d1)
	// Lines written while no driver follows reach the files after the
	// recovery, once each.
	d2 := newTestDriver(t, Config{})
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, d2, cfg.ID, 30*time.Second)
	if res.ExitCode != 4 {
		t.Fatalf("exit after recovery: %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, cfg.StdoutPath)), "\n")
	for i, l := range lines {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("log line %d is %q: gap or duplicate in %v", i+1, l, lines)
		}
	}
	if len(lines) != 40 {
		t.Fatalf("%d log lines, want 40: %v", len(lines), lines)
	}
}

func TestRecoverExitedWhileDown(t *testing.T) {
	d1 := newTestDriver(t, Config{})
	cfg := taskConfig(t, "exits", `echo started; sleep 0.5; exit 5`)
	h := start(t, d1, cfg)
	st, _ := decodeState(h.DriverState)
	crash(d1)
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		info, err := d1.docker.ContainerInspect(context.Background(), st.ContainerID)
		return err == nil && !info.State.Running, err
	})
	d2 := newTestDriver(t, Config{})
	if err := d2.RecoverTask(h); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, d2, cfg.ID, 10*time.Second); res.ExitCode != 5 || res.Err != nil {
		t.Fatalf("exit of a container that exited while no driver ran: %+v", res)
	}
	if got := readFile(t, cfg.StdoutPath); got != "started\n" {
		t.Fatalf("stdout = %q", got)
	}
}

func TestRecoverGoneContainerFails(t *testing.T) {
	d1 := newTestDriver(t, Config{})
	cfg := taskConfig(t, "gone", `exec sleep 300`)
	h := start(t, d1, cfg)
	if err := d1.DestroyTask(cfg.ID, true); err != nil {
		t.Fatal(err)
	}
	d2 := newTestDriver(t, Config{})
	if err := d2.RecoverTask(h); err == nil {
		t.Fatal("recovered a container that is gone")
	}
}
