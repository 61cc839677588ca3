package command

import (
	"math"
	"os"
	"path/filepath"
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
	total := availableMemory()
	if total == 0 || total > physicalMemory() {
		t.Fatalf("available memory %d, physical %d", total, physicalMemory())
	}
	if got, want := debug.SetMemoryLimit(math.MaxInt64), int64(float64(total)*memoryLimitShare); got != want {
		t.Errorf("memory limit %d, want %d (%.0f%% of %d)", got, want, memoryLimitShare*100, total)
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

func TestCgroupMemoryLimit(t *testing.T) {
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		cgroup string
		files  map[string]string // relative to the mount
		want   uint64
	}{
		{"v2 limit", "0::/agent\n", map[string]string{"agent/memory.max": "2147483648\n"}, 2 << 30},
		{"v2 max", "0::/agent\n", map[string]string{"agent/memory.max": "max\n"}, 0},
		{"v2 mount is the cgroup", "0::/\n", map[string]string{"memory.max": "1073741824\n"}, 1 << 30},
		{"v1 limit", "9:cpu,cpuacct:/x\n4:memory:/agent\n", map[string]string{"memory/agent/memory.limit_in_bytes": "536870912\n"}, 512 << 20},
		{"v1 unlimited", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no memory controller", "8:pids:/\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "proc-cgroup"), tt.cgroup)
			for rel, content := range tt.files {
				write(t, filepath.Join(dir, "mnt", rel), content)
			}
			if got := cgroupMemoryLimit(filepath.Join(dir, "proc-cgroup"), filepath.Join(dir, "mnt")); got != tt.want {
				t.Errorf("limit %d, want %d", got, tt.want)
			}
		})
	}
}
