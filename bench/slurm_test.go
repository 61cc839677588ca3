//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// slurmResult is bench/results/slurm.json.
type slurmResult struct {
	Submissions     int     `json:"submissions"`
	MkP50Ms         float64 `json:"mk_p50_ms"`
	MkP99Ms         float64 `json:"mk_p99_ms"`
	SbatchP50Ms     float64 `json:"sbatch_p50_ms"`
	SbatchP99Ms     float64 `json:"sbatch_p99_ms"`
	OverheadP50Ms   float64 `json:"overhead_p50_ms"`
	Concurrent      int     `json:"concurrent"`
	ConcurrentSecs  float64 `json:"concurrent_s"`
	ConcurrentPerS  float64 `json:"concurrent_jobs_per_s"`
	ConcurrentLost  int     `json:"concurrent_lost"`
	ConcurrentDupes int     `json:"concurrent_duplicated"`
}

// benchScript is the batch script of every submission: it ends at once.
const benchScript = "#!/bin/sh\ntrue\n"

// slurmBenchJob is a batch job of one gpu-slurm task.
func slurmBenchJob(name string) *structs.Job {
	return &structs.Job{
		ObjectMeta: structs.ObjectMeta{Name: name},
		Type:       structs.JobTypeBatch,
		Groups: []*structs.TaskGroup{{
			Name: "g", Count: 1,
			Restart: &structs.RestartPolicy{Attempts: 0, Interval: "1m", Delay: "1s", Mode: structs.RestartModeFail},
			Tasks: []*structs.Task{{
				Name: "main", Driver: "gpu-slurm",
				Config:    &structs.TaskConfig{Script: benchScript},
				Resources: &structs.Resources{CPU: 1, MemoryMB: 1},
			}},
		}},
	}
}

// slurmNames returns the names of every job Slurm has (finished ones too).
func slurmNames(t *testing.T, s *testutil.Slurm) []string {
	return strings.Fields(s.Run(t, "squeue", "-h", "-t", "all", "-o", "%j"))
}

// waitInSlurm polls squeue until Slurm has a job of the given name.
func waitInSlurm(t *testing.T, s *testutil.Slurm, name string, start time.Time) time.Duration {
	for {
		out, err := s.Try("squeue", "-h", "-t", "all", "-n", name, "-o", "%i")
		if err == nil && strings.TrimSpace(out) != "" {
			return time.Since(start)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("slurm has no job %s after 30s", name)
		}
	}
}

// TestBenchSlurm measures submissions of Slurm batch jobs through mk
// against bare sbatch, on a one-node Slurm on localhost (scripts/slurm.sh)
// and an agent whose gpu-slurm plugin submits to it: 50 `job run`s (the
// register call) of a batch job with one gpu-slurm task, each timed until
// squeue shows its job, and 50 bare `sbatch` runs of the same script,
// timed until sbatch returns (Slurm has the job then); then 200 jobs
// registered at once, timed until Slurm has them all, and checked: one
// Slurm job per mk job, none lost, none twice. (There is no slurmdbd here:
// the check reads the controller's record, squeue -t all, which keeps
// finished jobs for MinJobAge, an hour.)
func TestBenchSlurm(t *testing.T) {
	const n, concurrent = 50, 200
	s := testutil.StartSlurm(t, 2)
	a := testutil.NewClientAgent(t, "bench-1", s.ClientConfig())
	cl, err := api.NewClient(api.Config{Address: a.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		nodes, _, err := cl.Nodes(nil)
		if err != nil || len(nodes) != 1 {
			return false, fmt.Errorf("nodes: %v", err)
		}
		n, err := cl.Node(nodes[0].ID, nil)
		if err != nil {
			return false, err
		}
		return n.HasDriver("gpu-slurm"), fmt.Errorf("gpu-slurm not healthy: %+v", n.Drivers["gpu-slurm"])
	})
	ctx := context.Background()
	var mkLat, sbatchLat []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("seq-%d", i)
		start := time.Now()
		if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: slurmBenchJob(name)}); err != nil {
			t.Fatal(err)
		}
		mkLat = append(mkLat, waitInSlurm(t, s, "mk."+name+".main", start))
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "bench.sbatch")
	if err := os.WriteFile(script, []byte(benchScript), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		start := time.Now()
		s.Run(t, "sbatch", "--parsable", "--job-name=bare-"+fmt.Sprint(i), "--chdir="+dir,
			"--output="+filepath.Join(dir, "out.log"), "--error="+filepath.Join(dir, "err.log"), "--open-mode=append", script)
		sbatchLat = append(sbatchLat, time.Since(start))
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for i := 0; i < concurrent; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: slurmBenchJob(fmt.Sprintf("par-%d", i))}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	counts := map[string]int{}
	testutil.WaitFor(t, 120*time.Second, func() (bool, error) {
		counts = map[string]int{}
		for _, name := range slurmNames(t, s) {
			if strings.HasPrefix(name, "mk.par-") {
				counts[name]++
			}
		}
		return len(counts) == concurrent, fmt.Errorf("slurm has %d of %d jobs", len(counts), concurrent)
	})
	elapsed := time.Since(start)
	dupes := 0
	for _, c := range counts {
		dupes += c - 1
	}

	sortDurations(mkLat)
	sortDurations(sbatchLat)
	res := slurmResult{
		Submissions: n,
		MkP50Ms:     ms(percentile(mkLat, 50)), MkP99Ms: ms(percentile(mkLat, 99)),
		SbatchP50Ms: ms(percentile(sbatchLat, 50)), SbatchP99Ms: ms(percentile(sbatchLat, 99)),
		Concurrent: concurrent, ConcurrentSecs: elapsed.Seconds(),
		ConcurrentPerS:  float64(concurrent) / elapsed.Seconds(),
		ConcurrentLost:  concurrent - len(counts),
		ConcurrentDupes: dupes,
	}
	res.OverheadP50Ms = res.MkP50Ms - res.SbatchP50Ms
	fmt.Println("\nslurm submissions: mk job run (until squeue shows the job) vs bare sbatch of the same script")
	printTable([]string{"path", "n", "p50 ms", "p99 ms"}, [][]string{
		{"mk", fmt.Sprint(n), fmt.Sprintf("%.1f", res.MkP50Ms), fmt.Sprintf("%.1f", res.MkP99Ms)},
		{"sbatch", fmt.Sprint(n), fmt.Sprintf("%.1f", res.SbatchP50Ms), fmt.Sprintf("%.1f", res.SbatchP99Ms)},
	})
	fmt.Printf("overhead p50: %.1f ms (target <= 20 ms: %s)\n", res.OverheadP50Ms, verdict(res.OverheadP50Ms <= 20))
	fmt.Printf("%d concurrent submissions through mk: %.2fs, %.1f jobs/s, lost %d, duplicated %d\n",
		concurrent, res.ConcurrentSecs, res.ConcurrentPerS, res.ConcurrentLost, res.ConcurrentDupes)
	writeResults(t, "slurm", res)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
