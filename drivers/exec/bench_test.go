package exec

import (
	"os"
	"testing"
)

// BenchmarkStartTask measures StartTask: from the call to a task running
// in its cgroup (the driver's share of `make bench BENCH=exec_start`,
// without the cluster around it). Stopping and destroying the task are not
// timed. The waiter is this test binary; MK_BIN=path/to/mk times the mk
// binary's start as the waiter instead, as in production.
func BenchmarkStartTask(b *testing.B) {
	requireRoot(b)
	if p := os.Getenv("MK_BIN"); p != "" {
		waiterBinary = p
	}
	d := New(nil)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := testConfig(b, "sleep", "300")
		b.StartTimer()
		if _, err := d.StartTask(cfg); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := d.DestroyTask(cfg.ID, true); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
