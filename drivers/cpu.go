package drivers

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// CoreMHz is the clock of one CPU core, read from the first "cpu MHz" of
// /proc/cpuinfo (1000 if unknown). A node's CPU is CoreMHz times its
// cores; a task's MHz over CoreMHz is the share of one core it asked for.
func CoreMHz() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 1000
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && mhz > 0 {
				return int(mhz)
			}
		}
	}
	return 1000
}
