package command

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	hclog "github.com/hashicorp/go-hclog"
)

// serverGCPercent is the GC target of an agent when GOGC is not set. The
// state store is a large, long-lived heap that every server builds in step
// with the others: collecting each time the heap doubles spent a fifth of
// the leader's CPU in the register benchmark, and 800 against 400 gave 5 %
// more registers per second in 5 interleaved pairs (docs/benchmarks.md).
const serverGCPercent = 800

// memoryLimitShare is the share of the agent's memory (the machine's, or
// its cgroup's limit when lower) the Go heap may take before the GC runs
// more often than serverGCPercent asks, when GOMEMLIMIT is not set: a heap
// allowed to grow to 9 times what is live must still not run the agent out
// of memory.
const memoryLimitShare = 0.7

// tuneGC raises the GC target and sets a soft memory limit, unless the
// operator set GOGC or GOMEMLIMIT (the runtime reads those itself).
func tuneGC(logger hclog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
		logger.Debug("gc target set", "gc_percent", serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := availableMemory(); total > 0 {
			limit := int64(float64(total) * memoryLimitShare)
			debug.SetMemoryLimit(limit)
			logger.Debug("gc memory limit set", "bytes", limit)
		}
	}
}

// availableMemory is the memory the agent may use in bytes: the machine's,
// or its cgroup's limit when that is lower; 0 when unknown.
func availableMemory() uint64 {
	total := physicalMemory()
	if limit := cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"); limit > 0 && (total == 0 || limit < total) {
		return limit
	}
	return total
}

// physicalMemory is the machine's memory in bytes, or 0 when unknown.
func physicalMemory() uint64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0
	}
	return uint64(info.Totalram) * uint64(info.Unit)
}

// cgroupMemoryLimit reads the memory limit of this process's cgroup, v2
// (memory.max) or v1 (memory.limit_in_bytes), given /proc/self/cgroup and
// the cgroup mount; 0 when there is none ("max", or v1's huge default).
// Two files, read once at start: containerd/cgroups (which the exec driver
// uses) would read every controller's statistics for this one number.
func cgroupMemoryLimit(procCgroup, mount string) uint64 {
	data, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0
	}
	var candidates []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			candidates = append(candidates, filepath.Join(mount, parts[2], "memory.max"), filepath.Join(mount, "memory.max"))
		case hasController(parts[1], "memory"):
			candidates = append(candidates, filepath.Join(mount, "memory", parts[2], "memory.limit_in_bytes"),
				filepath.Join(mount, "memory", "memory.limit_in_bytes"))
		}
	}
	for _, path := range candidates {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || v >= 1<<60 {
			return 0 // "max", or v1's "no limit" (a page-rounded 2^63)
		}
		return v
	}
	return 0
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
