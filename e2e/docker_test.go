package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/testutil"
)

// The docker tests run against the real Docker Engine: requireDocker
// starts it when it does not run (scripts/docker.sh, which also builds
// mk/busybox:test).

var dockerOnce struct {
	sync.Once
	err error
	out []byte
}

// requireDocker makes sure dockerd answers and the test image exists.
func requireDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() {
		dockerOnce.out, dockerOnce.err = exec.Command("../scripts/docker.sh").CombinedOutput()
	})
	if dockerOnce.err != nil {
		t.Fatalf("scripts/docker.sh: %v\n%s", dockerOnce.err, dockerOnce.out)
	}
}

// dockerPS lists the containers (running or not) labelled for a pod, as
// "name state" lines.
func dockerPS(t *testing.T, podID string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=mk.pod="+podID,
		"--format", "{{.Names}} {{.ID}} {{.State}}").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// mixedJob is one pod with a docker httpd and two exec tasks: the writer
// puts a file into the pod's ephemeral volume, the httpd (docker) serves
// it from the same volume, the reader fetches it over localhost.
const mixedJob = `job "mixed" {
  type = "service"
  group "web" {
    update {
      min_healthy_time = "1s"
    }
    volume "shared" {
      type = "ephemeral"
    }
    task "httpd" {
      driver = "docker"
      config {
        image   = "mk/busybox:test"
        pull    = "never"
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/srv"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/srv"
        read_only   = true
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
    task "writer" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo from-exec-writer > /srv/index.html; exec sleep 3600"]
      }
      volume_mount {
        volume      = "shared"
        destination = "/srv"
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
    task "reader" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "until busybox wget -q -O - http://127.0.0.1:8080/index.html; do sleep 0.2; done; exec sleep 3600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
`

// TestDockerMixedPod: a docker task and exec tasks of one pod share the
// pod's ephemeral volume and localhost (the pause container's namespace,
// plumbed by the client); mk pod exec runs in the container; stopping
// the job leaves no container behind.
func TestDockerMixedPod(t *testing.T) {
	requireDocker(t)
	addr := devAgent(t)
	if out, errOut, code := runMk(t, addr, "job", "run", writeJob(t, "mixed.hcl", mixedJob)); code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	podID := onlyPod(t, addr, "mixed")
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		out, _, _ := runMk(t, addr, "pod", "logs", "-task", "reader", podID)
		return strings.Contains(out, "from-exec-writer"), nil
	})
	out, errOut, code := runMk(t, addr, "pod", "exec", "-task", "httpd", podID, "--", "sh", "-c", "cat /srv/index.html; hostname -i 2>/dev/null; exit 3")
	if code != 3 || !strings.Contains(out, "from-exec-writer") {
		t.Fatalf("pod exec in the container: exit %d\n%s%s", code, out, errOut)
	}
	ps := dockerPS(t, podID)
	if len(ps) != 2 || !strings.Contains(strings.Join(ps, "\n"), "-pause ") || !strings.Contains(strings.Join(ps, "\n"), "-httpd ") {
		t.Fatalf("containers of the pod: %v, want its httpd and its pause container", ps)
	}
	if out, errOut, code := runMk(t, addr, "job", "stop", "mixed"); code != 0 {
		t.Fatalf("job stop: %d\n%s%s", code, out, errOut)
	}
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		return len(dockerPS(t, podID)) == 0, nil
	})
}

// onlyPod waits for the job's one pod to run and returns its ID.
func onlyPod(t *testing.T, addr, job string) string {
	t.Helper()
	var id string
	testutil.WaitFor(t, 60*time.Second, func() (bool, error) {
		out, _, code := runMk(t, addr, "pod", "list", "-json", "-job", job)
		if code != 0 {
			return false, nil
		}
		var pods []struct{ ID, Phase string }
		if err := json.Unmarshal([]byte(out), &pods); err != nil || len(pods) != 1 {
			return false, nil
		}
		id = pods[0].ID
		return pods[0].Phase == "running", nil
	})
	return id
}
