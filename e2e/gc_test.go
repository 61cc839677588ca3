package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
)

const gcJobSpec = `job "gcjob" {
  type = "service"
  group "app" {
    count = 2
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
`

// TestJobStopAndSystemGCLeaveNothing: after mk job stop and mk system gc a
// real dev agent holds nothing of the job: no pod in mk pod list -all, no
// pod directory under the client's data dir, no cgroup named after a pod
// under any cgroup controller.
func TestJobStopAndSystemGCLeaveNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: the exec driver makes cgroups; run the tests as root, as make test and CI do")
	}
	addr := devAgent(t)
	spec := filepath.Join(t.TempDir(), "gcjob.hcl")
	if err := os.WriteFile(spec, []byte(gcJobSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runMk(t, addr, "job", "run", "-detach", spec); code != 0 {
		t.Fatalf("job run: %d %s %s", code, out, errOut)
	}
	var self struct{ Config struct{ DataDir string } }
	resp, err := http.Get(addr + "/v1/agent/self")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&self)
	resp.Body.Close()
	if err != nil || self.Config.DataDir == "" {
		t.Fatalf("agent self: data dir %q, %v", self.Config.DataDir, err)
	}
	podsDir := filepath.Join(self.Config.DataDir, "client", "pods")
	var ids []string
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		pods := listPodsCLI(t, addr, "-job", "gcjob")
		ids = ids[:0]
		for _, p := range pods {
			if p.Phase != structs.PodPhaseRunning {
				return false, fmt.Errorf("pod %s is %s", p.Name, p.Phase)
			}
			ids = append(ids, p.ID)
		}
		return len(ids) == 2, fmt.Errorf("%d pods running", len(ids))
	})
	// What the pods make is there before: the checks below can fail.
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(podsDir, id)); err != nil {
			t.Fatalf("pod directory of running pod: %v", err)
		}
		if left := podCgroups(t, id); len(left) == 0 {
			t.Fatalf("no cgroup of running pod %s", id)
		}
	}

	if out, errOut, code := runMk(t, addr, "job", "stop", "gcjob"); code != 0 {
		t.Fatalf("job stop: %d %s %s", code, out, errOut)
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		for _, p := range listPodsCLI(t, addr, "-all", "-job", "gcjob") {
			if !p.Terminal() || p.DesiredStatus != structs.PodDesiredStop {
				return false, fmt.Errorf("pod %s: desired %s, phase %s", p.Name, p.DesiredStatus, p.Phase)
			}
		}
		return true, nil
	})
	if out, errOut, code := runMk(t, addr, "system", "gc"); code != 0 {
		t.Fatalf("system gc: %d %s %s", code, out, errOut)
	}
	if pods := listPodsCLI(t, addr, "-all", "-job", "gcjob"); len(pods) != 0 {
		t.Fatalf("after system gc: %d pods listed", len(pods))
	}
	testutil.WaitFor(t, 30*time.Second, func() (bool, error) {
		for _, id := range ids {
			if _, err := os.Stat(filepath.Join(podsDir, id)); !os.IsNotExist(err) {
				return false, fmt.Errorf("pod directory %s still there (%v)", id, err)
			}
			if left := podCgroups(t, id); len(left) > 0 {
				return false, fmt.Errorf("cgroups left: %v", left)
			}
		}
		return true, nil
	})
}

// listPodsCLI runs mk pod list -json with args.
func listPodsCLI(t *testing.T, addr string, args ...string) []*structs.Pod {
	t.Helper()
	out, errOut, code := runMk(t, addr, append([]string{"pod", "list", "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("pod list: %d %s", code, errOut)
	}
	var pods []*structs.Pod
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		t.Fatalf("pod list output %q: %v", out, err)
	}
	return pods
}

// podCgroups lists the cgroups named after a pod (the exec driver names a
// task's "<pod>_<task>") under every controller of the host, v1 or v2.
func podCgroups(t *testing.T, podID string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir("/sys/fs/cgroup", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil // a controller we may not read
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), podID) {
			found = append(found, path)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
