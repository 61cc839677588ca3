//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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
	Submissions int     `json:"submissions"`
	MkP50Ms     float64 `json:"mk_p50_ms"`
	MkP99Ms     float64 `json:"mk_p99_ms"`
	SbatchP50Ms float64 `json:"sbatch_p50_ms"`
	SbatchP99Ms float64 `json:"sbatch_p99_ms"`
	// SbatchReturnP50Ms is until sbatch returns rather than until squeue
	// shows the job.
	SbatchReturnP50Ms float64 `json:"sbatch_return_p50_ms"`
	OverheadP50Ms     float64 `json:"overhead_p50_ms"`
	// Quiet: each submission after the previous job ended and the
	// servers were idle for quietGap.
	QuietMkP50Ms       float64 `json:"quiet_mk_p50_ms"`
	QuietMkP99Ms       float64 `json:"quiet_mk_p99_ms"`
	QuietOverheadP50Ms float64 `json:"quiet_overhead_p50_ms"`
	Concurrent         int     `json:"concurrent"`
	ConcurrentSecs     float64 `json:"concurrent_s"`
	ConcurrentPerS     float64 `json:"concurrent_jobs_per_s"`
	ConcurrentLost     int     `json:"concurrent_lost"`
	ConcurrentDupes    int     `json:"concurrent_duplicated"`
}

// quietGap is the idle time before each quiet submission: longer than
// the controllers' pacing, so the register finds them idle.
const quietGap = 150 * time.Millisecond

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
// squeue shows its job (back to back, then each after the previous job
// ended and a quiet spell), and 50 bare `sbatch` runs of the same script,
// timed the same way (until squeue shows the job), and 50 more timed
// until sbatch returns; then 200 jobs
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
	var mkLat, quietLat, sbatchLat, sbatchReturn []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("seq-%d", i)
		start := time.Now()
		if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: slurmBenchJob(name)}); err != nil {
			t.Fatal(err)
		}
		mkLat = append(mkLat, waitInSlurm(t, s, "mk."+name+".main", start))
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("quiet-%d", i)
		// The measurement's protocol, not a wait for a condition: the
		// previous job is done (waited for below) and the servers idle.
		<-time.After(quietGap)
		start := time.Now()
		if _, err := cl.RegisterJob(ctx, &structs.JobRegisterBody{Job: slurmBenchJob(name)}); err != nil {
			t.Fatal(err)
		}
		quietLat = append(quietLat, waitInSlurm(t, s, "mk."+name+".main", start))
		testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
			pods, _, err := cl.Pods(name, nil)
			if err != nil || len(pods) != 1 {
				return false, fmt.Errorf("pods of %s: %d %v", name, len(pods), err)
			}
			return pods[0].Phase == structs.PodPhaseSucceeded, fmt.Errorf("pod of %s is %s", name, pods[0].Phase)
		})
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "bench.sbatch")
	if err := os.WriteFile(script, []byte(benchScript), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		// Timed like mk's: from the start until squeue shows the job
		// (the same polling), and also until sbatch returns.
		name := "bare-" + fmt.Sprint(i)
		cmd := exec.Command("sbatch", "--parsable", "--job-name="+name, "--chdir="+dir,
			"--output="+filepath.Join(dir, "out.log"), "--error="+filepath.Join(dir, "err.log"), "--open-mode=append", script)
		cmd.Env = append(os.Environ(), "SLURM_CONF="+s.Conf)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sbatchLat = append(sbatchLat, waitInSlurm(t, s, name, start))
		if err := cmd.Wait(); err != nil {
			t.Fatalf("sbatch: %v", err)
		}
	}
	for i := 0; i < n; i++ {
		start := time.Now()
		s.Run(t, "sbatch", "--parsable", "--job-name=bare-return-"+fmt.Sprint(i), "--chdir="+dir,
			"--output="+filepath.Join(dir, "out.log"), "--error="+filepath.Join(dir, "err.log"), "--open-mode=append", script)
		sbatchReturn = append(sbatchReturn, time.Since(start))
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
	sortDurations(quietLat)
	sortDurations(sbatchLat)
	sortDurations(sbatchReturn)
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
	res.SbatchReturnP50Ms = ms(percentile(sbatchReturn, 50))
	res.QuietMkP50Ms, res.QuietMkP99Ms = ms(percentile(quietLat, 50)), ms(percentile(quietLat, 99))
	res.QuietOverheadP50Ms = res.QuietMkP50Ms - res.SbatchP50Ms
	fmt.Println("\nslurm submissions: mk job run (until squeue shows the job) vs bare sbatch of the same script")
	printTable([]string{"path", "n", "p50 ms", "p99 ms"}, [][]string{
		{"mk, back to back", fmt.Sprint(n), fmt.Sprintf("%.1f", res.MkP50Ms), fmt.Sprintf("%.1f", res.MkP99Ms)},
		{"mk, quiet", fmt.Sprint(n), fmt.Sprintf("%.1f", res.QuietMkP50Ms), fmt.Sprintf("%.1f", res.QuietMkP99Ms)},
		{"sbatch", fmt.Sprint(n), fmt.Sprintf("%.1f", res.SbatchP50Ms), fmt.Sprintf("%.1f", res.SbatchP99Ms)},
		{"sbatch, until it returns", fmt.Sprint(n), fmt.Sprintf("%.1f", res.SbatchReturnP50Ms), "-"},
	})
	fmt.Printf("overhead p50: back to back %.1f ms (target <= 20 ms: %s), quiet %.1f ms (%s)\n", res.OverheadP50Ms,
		verdict(res.OverheadP50Ms <= 20), res.QuietOverheadP50Ms, verdict(res.QuietOverheadP50Ms <= 20))
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
