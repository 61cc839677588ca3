package mountns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
)

// TestOnNewThreadThrowsTheThreadAway: fn never runs on the main thread,
// even when the main goroutine's thread is free to take it, and its
// thread is gone after it returned.
func TestOnNewThreadThrowsTheThreadAway(t *testing.T) {
	for i := 0; i < 20; i++ {
		var tid int
		if err := OnNewThread(func() error { tid = syscall.Gettid(); return nil }); err != nil {
			t.Fatal(err)
		}
		if tid == syscall.Getpid() {
			t.Fatal("fn ran on the main thread")
		}
		testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
			_, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid))
			return os.IsNotExist(err), fmt.Errorf("thread %d still runs: %v", tid, err)
		})
	}
	want := errors.New("fn's error")
	if err := OnNewThread(func() error { return want }); err != want {
		t.Fatalf("err = %v, want fn's", err)
	}
}
