//go:build bench

// Package bench holds mk's benchmarks. They are tests behind the "bench"
// build tag so `make test` skips them and `make bench` runs them; each
// prints a table and writes its rows as JSON under bench/results/.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
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

// profileAgents saves CPU profiles of every agent of the cluster, taken
// over d through /debug/pprof, into MK_BENCH_PROFILE_DIR (when set) as
// <agent>-<role>.prof.
func profileAgents(t *testing.T, c *testutil.ProcessCluster, d time.Duration) {
	dir := os.Getenv("MK_BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	leader := c.WaitForLeader(time.Second)
	var wg sync.WaitGroup
	for i, a := range c.Agents {
		role := "follower"
		if i == leader {
			role = "leader"
		}
		wg.Add(1)
		go func(a *testutil.Agent, role string) {
			defer wg.Done()
			cpu := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", a.Addr(), max(int(d.Seconds()), 1))
			saveProfile(cpu, filepath.Join(dir, a.Name+"-"+role+".cpu.prof"))
			saveProfile(a.Addr()+"/debug/pprof/allocs", filepath.Join(dir, a.Name+"-"+role+".allocs.prof"))
			if os.Getenv("MK_BENCH_TRACE") != "" {
				saveProfile(a.Addr()+"/debug/pprof/trace?seconds=1", filepath.Join(dir, a.Name+"-"+role+".trace"))
			}
		}(a, role)
	}
	wg.Wait()
}

// saveProfile fetches a pprof profile from url into path.
func saveProfile(url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Printf("profile %s: %v\n", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
	fmt.Printf("profile in %s\n", path)
}
