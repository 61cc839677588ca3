package command

import (
	"math"
	"runtime/debug"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
)

func TestTuneGC(t *testing.T) {
	gcPercent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(gcPercent)
		debug.SetMemoryLimit(limit)
	})
	logger := hclog.NewNullLogger()

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC(logger)
	if got := debug.SetGCPercent(100); got != serverGCPercent {
		t.Errorf("GC percent %d, want %d", got, serverGCPercent)
	}
	total := physicalMemory()
	if total == 0 {
		t.Fatal("no physical memory size from sysinfo")
	}
	if got, want := debug.SetMemoryLimit(math.MaxInt64), int64(float64(total)*memoryLimitShare); got != want {
		t.Errorf("memory limit %d, want %d (half of %d)", got, want, total)
	}

	// What the operator set stays.
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneGC(logger)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC=100 set", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("memory limit %d with GOMEMLIMIT set", got)
	}
}
