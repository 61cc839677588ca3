//go:build bench

// Package bench holds mk's benchmarks. They are tests behind the "bench"
// build tag so `make test` skips them and `make bench` runs them; each
// prints a table and writes its rows as JSON under bench/results/.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeResults writes rows as indented JSON to bench/results/NAME.json.
func writeResults(t *testing.T, name string, rows any) {
	t.Helper()
	if err := os.MkdirAll("results", 0o755); err != nil {
		t.Fatal(err)
	}
	buf, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("results", name+".json")
	if err := os.WriteFile(path, append(buf, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("wrote bench/%s\n", path)
}

// printTable prints aligned columns.
func printTable(header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(cells []string) {
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = fmt.Sprintf("%-*s", widths[i], c)
		}
		fmt.Println(strings.TrimRight(strings.Join(parts, "  "), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// maybeProfile starts a CPU profile when MK_BENCH_CPUPROFILE names a file.
func maybeProfile(t *testing.T) func() {
	path := os.Getenv("MK_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Printf("cpu profile in %s\n", path)
	}
}
