package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests")

// devAgent starts the built binary as `mk agent -dev` on free ports and
// returns its API address.
func devAgent(t *testing.T) string {
	addr, _ := testutil.StartDevAgent(t)
	return addr
}

// noDockerConfig turns the docker driver off on a dev agent.
const noDockerConfig = `client {
  enabled = true
  driver "docker" {
    enabled = false
  }
}
`

// devAgentProcess is devAgent, also returning the agent's PID.
func devAgentProcess(t *testing.T) (string, int) { return testutil.StartDevAgent(t) }

// runMk runs the built binary with -address and returns stdout, stderr
// and the exit code.
func runMk(t *testing.T, addr string, args ...string) (string, string, int) {
	t.Helper()
	cmd := mkCommand(t, addr, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// mkCommand is the built binary with args and -address after the
// subcommand, run in the examples directory.
func mkCommand(t *testing.T, addr string, args ...string) *exec.Cmd {
	t.Helper()
	full := args
	if addr != "" && len(args) >= 2 {
		// -address goes after the subcommand, as a user writes it.
		n := 2
		if args[0] == "operator" {
			n = 3
		}
		if args[0] == "version" {
			n = 1
		}
		full = append(append(append([]string{}, args[:n]...), "-address", addr), args[n:]...)
	}
	cmd := exec.Command(testutil.MkBinary(t), full...)
	cmd.Dir = "../jobspecs/examples"
	return cmd
}

var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "<TIME>"},
	{regexp.MustCompile(`index \d+`), "index <N>"},
	// The Raft index of a decision in job status's Recent Events.
	{regexp.MustCompile(`(?m)^(<TIME>  )\d+( +(Deployment|Autoscaler) )`), "$1<N>$2"},
	{regexp.MustCompile(`Index: \d+`), "Index: <N>"},
	{regexp.MustCompile(`check-index \d+`), "check-index <N>"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<PORT>"},
	{regexp.MustCompile(`\b10\.42\.\d+\.\d+\b`), "<POD-IP>"},
	{regexp.MustCompile(`\s+\d{2,5}\s+alive`), " <PORT> alive"},
	{regexp.MustCompile(`"(SubmitTime|CreateIndex|ModifyIndex|JobModifyIndex)": \d+`), `"$1": <N>`},
	{regexp.MustCompile(`mk v(\S+) \(\w+\)`), "mk v$1 (<COMMIT>)"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<UUID>"},
	{regexp.MustCompile(`\b[0-9a-f]{8}\b`), "<ID>"},
	// job run's progress lines depend on timing; its final line stays.
	{regexp.MustCompile(`(?m)^    \S+: \d+/\d+ (healthy|succeeded).*\n`), ""},
	// Live resource use in `pod status`; the limits stay.
	{regexp.MustCompile(`(?m)^(CPU +=) \d+/`), "$1 <N>/"},
	{regexp.MustCompile(`(?m)^(Memory +=) [\d.]+ \w+/(\d+ MiB) \(RSS [\d.]+ \w+\)`), "$1 <N>/$2 (RSS <N>)"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// TestCLIGolden runs a session of the built binary against `mk agent -dev`
// and compares each command's output and exit code with golden files.
func TestCLIGolden(t *testing.T) {
	// A node without the docker driver: the goldens show docker jobs
	// waiting for one.
	addr, _ := testutil.StartDevAgent(t, noDockerConfig)
	snap := filepath.Join(t.TempDir(), "state.snap")
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	// settled waits until every pod of a job satisfies ok, so the next
	// command's output does not depend on timing.
	// liveSettled waits until a job has want live pods and every pod of it
	// satisfies ok.
	liveSettled := func(job string, want int, ok func(p *structs.Pod) bool) func() {
		return func() {
			testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
				pods, _, err := cl.Pods(job, nil)
				if err != nil {
					return false, err
				}
				live := 0
				for _, p := range pods {
					if !ok(p) {
						return false, fmt.Errorf("pod %s: desired %s phase %s reason %q", p.Name, p.DesiredStatus, p.Phase, p.PendingReason)
					}
					if p.DesiredStatus == structs.PodDesiredRun && !p.Terminal() {
						live++
					}
				}
				return live == want, fmt.Errorf("%d live pods of %s, want %d", live, job, want)
			})
		}
	}
	settled := func(job string, ok func(p *structs.Pod) bool) func() {
		return func() {
			testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
				pods, _, err := cl.Pods(job, nil)
				if err != nil {
					return false, err
				}
				for _, p := range pods {
					if !ok(p) {
						return false, fmt.Errorf("pod %s: desired %s phase %s reason %q", p.Name, p.DesiredStatus, p.Phase, p.PendingReason)
					}
				}
				return len(pods) > 0, fmt.Errorf("no pods of %s", job)
			})
		}
	}
	// rolloutSettled waits until each deployment of a job has no old pod
	// left and says so, so job status's deployment table is steady.
	rolloutSettled := func(job string) {
		testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
			deps, _, err := cl.JobDeployments(job, nil)
			if err != nil {
				return false, err
			}
			for _, d := range deps {
				steady := fmt.Sprintf("%d of %d pods healthy", d.Healthy, d.Desired)
				if d.OldPods > 0 || d.Status != structs.DeploymentStatusSuccessful && d.StatusDescription != steady {
					return false, fmt.Errorf("deployment %s: %s (%s), %d old pods", d.ID, d.Status, d.StatusDescription, d.OldPods)
				}
			}
			return true, nil
		})
	}
	placedOrWaiting := func(p *structs.Pod) bool {
		return p.Terminal() || p.DesiredStatus == structs.PodDesiredStop || p.PendingReason != "" || p.Phase == structs.PodPhaseRunning
	}
	// pod is the ID prefix of the pod hello.hello[0] while it runs; steps
	// name it as <POD>.
	var pod string
	helloPod := func() {
		liveSettled("hello", 2, running)()
		pods, _, err := cl.Pods("hello", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods {
			if p.Name == "hello.hello[0]" && running(p) {
				pod = p.ID[:8]
			}
		}
		if pod == "" {
			t.Fatal("no running pod hello.hello[0]")
		}
	}
	// The scheduler's dry run of a plan needs the dev agent's node.
	nodeReady := func() {
		testutil.WaitFor(t, 15*time.Second, func() (bool, error) {
			nodes, _, err := cl.Nodes(nil)
			if err != nil {
				return false, err
			}
			return len(nodes) == 1 && nodes[0].Ready(), fmt.Errorf("nodes %v, want one ready", nodes)
		})
	}
	// Steps whose output would depend on timing wait for the pods first.
	before := map[string]func(){
		"plan_new":          nodeReady,
		"plan_vars_changed": liveSettled("api", 3, placedOrWaiting),
		"run_vars_changed":  liveSettled("api", 3, placedOrWaiting),
		"status_one":        func() { liveSettled("api", 5, placedOrWaiting)(); rolloutSettled("api") },
		"pod_exec":          helloPod,
		"status_stopped":    settled("hello", (*structs.Pod).Terminal),
		"status_restored":   settled("hello", running),
	}
	steps := []struct {
		name string
		args []string
		code int
	}{
		{"status_empty", []string{"job", "status"}, 0},
		{"global_flag_misplaced", []string{"-detach", "job", "run", "hello-exec.hcl"}, 1},
		{"plan_new", []string{"job", "plan", "hello-exec.hcl"}, 1},
		{"run", []string{"job", "run", "hello-exec.hcl"}, 0},
		{"run_again", []string{"job", "run", "-detach", "hello-exec.hcl"}, 0},
		{"plan_unchanged", []string{"job", "plan", "hello-exec.hcl"}, 0},
		{"plan_unplaceable", []string{"job", "plan", "../../e2e/testdata/unplaceable.hcl"}, 1},
		{"run_vars", []string{"job", "run", "-detach", "-var", "replicas=3", "variables.hcl"}, 0},
		{"plan_vars_changed", []string{"job", "plan", "-var", "replicas=5", "variables.hcl"}, 1},
		{"run_vars_changed", []string{"job", "run", "-detach", "-var", "replicas=5", "variables.hcl"}, 0},
		{"status_list", []string{"job", "status"}, 0},
		{"status_one", []string{"job", "status", "api"}, 0},
		{"history", []string{"job", "history", "api"}, 0},
		{"global_flags", []string{"-address", "<ADDR>", "-namespace", "default", "job", "history", "api"}, 0},
		{"scale", []string{"job", "scale", "api", "api", "4"}, 0},
		{"scale_same", []string{"job", "scale", "api", "api", "4"}, 0},
		{"scale_unknown_group", []string{"job", "scale", "api", "db", "2"}, 1},
		{"scale_unknown_job", []string{"job", "scale", "nope", "api", "2"}, 1},
		{"scale_bad_count", []string{"job", "scale", "api", "api", "two"}, 1},
		{"scale_args", []string{"job", "scale", "api", "api"}, 1},
		{"stale_check_index", []string{"job", "run", "-check-index", "1", "hello-exec.hcl"}, 1},
		{"bad_file", []string{"job", "run", "testdata-missing.hcl"}, 1},
		{"inspect", []string{"job", "inspect", "hello"}, 0},
		{"pod_exec", []string{"pod", "exec", "<POD>", "--", "sh", "-c", "echo $MK_POD_NAME $MK_TASK_NAME; echo to stderr >&2; exit 3"}, 3},
		{"pod_exec_unknown_task", []string{"pod", "exec", "-task", "nope", "<POD>", "--", "true"}, 1},
		{"pod_status", []string{"pod", "status", "<POD>"}, 0},
		{"snapshot_save", []string{"operator", "snapshot", "save", snap}, 0},
		{"stop", []string{"job", "stop", "hello"}, 0},
		{"status_stopped", []string{"job", "status", "hello"}, 0},
		{"history_stopped", []string{"job", "history", "hello"}, 0},
		{"pod_status_stopped", []string{"pod", "status", "<POD>"}, 0},
		{"stop_purge", []string{"job", "stop", "-purge", "hello"}, 0},
		{"status_purged", []string{"job", "status", "hello"}, 1},
		{"snapshot_restore", []string{"operator", "snapshot", "restore", snap}, 0},
		{"status_restored", []string{"job", "status", "hello"}, 0},
		{"members", []string{"server", "members"}, 0},
		{"version", []string{"version"}, 0},
		{"peers", []string{"operator", "raft", "list-peers"}, 0},
	}
	for _, st := range steps {
		if wait := before[st.name]; wait != nil {
			wait()
		}
		args := make([]string, len(st.args))
		for i, a := range st.args {
			args[i] = strings.NewReplacer("<POD>", pod, "<ADDR>", addr).Replace(a)
		}
		runAddr := addr
		if strings.HasPrefix(args[0], "-") {
			runAddr = "" // the step places its global flags itself
		}
		stdout, stderr, code := runMk(t, runAddr, args...)
		got := fmt.Sprintf("$ mk %s\n%s%s[exit %d]\n", strings.Join(st.args, " "), stdout, stderr, code)
		checkGolden(t, st.name, strings.ReplaceAll(got, snap, "<SNAPSHOT>"))
		if code != st.code {
			t.Errorf("%s: exit %d, want %d", st.name, code, st.code)
		}
	}
}

// checkGolden compares normalized output with testdata/cli/NAME.golden
// (rewriting it with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", "cli", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create)", name, err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// TestCLIParseErrors: a bad job file fails before any request, with one
// line naming file:line:col, and a non-zero exit.
func TestCLIParseErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	src := "job \"web\" {\n  group \"g\" {\n    count = \"three\"\n  }\n}\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// No agent: the parse error must come first.
	stdout, stderr, code := runMk(t, "http://127.0.0.1:1", "job", "run", bad)
	want := bad + ":3:13: count: expected a number, got string\n"
	if code != 1 || stdout != "" || !strings.HasPrefix(strings.TrimPrefix(stderr, "Error: "), want) {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant %q", code, stdout, stderr, want)
	}
}
