//go:build bench

package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

// dockerStartResult is bench/results/docker_start.json.
type dockerStartResult struct {
	Pods           int     `json:"pods"`
	MkP50Ms        float64 `json:"mk_p50_ms"`
	MkP99Ms        float64 `json:"mk_p99_ms"`
	DockerRunP50Ms float64 `json:"docker_run_p50_ms"`
	DockerRunP99Ms float64 `json:"docker_run_p99_ms"`
	OverheadP50Ms  float64 `json:"overhead_p50_ms"`
}

// TestBenchDockerStart measures docker pod start latency on a real client
// (`mk agent -dev`, the docker driver as a plugin, a bridge pod: pause
// container, pod network, task container): from the register call of a
// one-pod job to the API reporting the pod running, over 30 jobs run one
// after another; beside it, `docker run -d` of the same image and command
// in the same run.
func TestBenchDockerStart(t *testing.T) {
	const n = 30
	if out, err := exec.Command("../scripts/docker.sh").CombinedOutput(); err != nil {
		t.Fatalf("scripts/docker.sh: %v\n%s", err, out)
	}
	addr, _ := testutil.StartDevAgent(t)
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	// The first pod builds the pause image: not counted.
	mkStart(t, cl, "docker-warm")
	var mkLat, runLat []time.Duration
	for i := 0; i < n; i++ {
		mkLat = append(mkLat, mkStart(t, cl, fmt.Sprintf("docker-start-%d", i)))
		runLat = append(runLat, dockerRun(t))
	}
	sortDurations(mkLat)
	sortDurations(runLat)
	res := dockerStartResult{Pods: n, MkP50Ms: ms(percentile(mkLat, 50)), MkP99Ms: ms(percentile(mkLat, 99)),
		DockerRunP50Ms: ms(percentile(runLat, 50)), DockerRunP99Ms: ms(percentile(runLat, 99))}
	res.OverheadP50Ms = res.MkP50Ms - res.DockerRunP50Ms
	fmt.Println("\ndocker pod start: job run -> API says running (mk agent -dev, docker plugin, bridge pod) vs docker run -d")
	printTable([]string{"", "pods", "p50 ms", "p99 ms"}, [][]string{
		{"mk", fmt.Sprint(n), fmt.Sprintf("%.1f", res.MkP50Ms), fmt.Sprintf("%.1f", res.MkP99Ms)},
		{"docker run -d", fmt.Sprint(n), fmt.Sprintf("%.1f", res.DockerRunP50Ms), fmt.Sprintf("%.1f", res.DockerRunP99Ms)},
	})
	verdict := "met"
	if res.OverheadP50Ms > 150 {
		verdict = "MISSED"
	}
	fmt.Printf("target: mk's overhead over docker run <= 150 ms at p50: %.1f ms, %s\n", res.OverheadP50Ms, verdict)
	writeResults(t, "docker_start", res)
}

// mkStart runs a one-pod docker job, returns how long until the API says
// it runs, and purges it.
func mkStart(t *testing.T, cl *api.Client, name string) time.Duration {
	job := benchJob(name)
	job.Groups[0].Count = 1
	job.Groups[0].Services, job.Groups[0].Network = nil, nil
	job.Groups[0].Tasks[0].Driver = structs.DriverDocker
	job.Groups[0].Tasks[0].Config = &structs.TaskConfig{Image: "mk/busybox:test", Pull: structs.PullNever,
		Command: "sleep", Args: []string{"600"}}
	start := time.Now()
	resp, err := cl.RegisterJob(context.Background(), &structs.JobRegisterBody{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	index := resp.Index
	for {
		pods, meta, err := cl.Pods(job.Name, &api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		index = meta.LastIndex
		if len(pods) == 1 && pods[0].Phase == structs.PodPhaseRunning {
			break
		}
		if len(pods) == 1 && pods[0].Phase == structs.PodPhaseFailed {
			t.Fatalf("pod of %s failed: %+v", job.Name, pods[0].TaskStates)
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("pod of %s not running after 60s", job.Name)
		}
	}
	took := time.Since(start)
	if _, err := cl.DeregisterJob(context.Background(), job.Name, true); err != nil {
		t.Fatal(err)
	}
	return took
}

// dockerRun times `docker run -d` of the same image and command, then
// removes the container.
func dockerRun(t *testing.T) time.Duration {
	start := time.Now()
	out, err := exec.Command("docker", "run", "-d", "--network", "none", "mk/busybox:test", "sleep", "600").Output()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	if err := exec.Command("docker", "rm", "-f", strings.TrimSpace(string(out))).Run(); err != nil {
		t.Fatalf("docker rm: %v", err)
	}
	return took
}
