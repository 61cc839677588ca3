package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/testutil"
)

// serviceJob is a job file of count pods that sleep.
func serviceJob(name string, count int) string {
	return fmt.Sprintf(`job %q {
  group "g" {
    count = %d
    task "sleep" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
`, name, count)
}

// TestCLINodeDrain: draining the only node says its pods have nowhere to
// go, drains anyway and waits: exit 0 once no pod is left (a job of one
// pod: its replacement waits unplaced), or an error at the deadline (a job
// of two: the drain stops one at a time and waits for its replacement).
// -detach returns at once.
func TestCLINodeDrain(t *testing.T) {
	addr := devAgent(t)
	cl, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(name string, count int) {
		t.Helper()
		file := filepath.Join(dir, name+".hcl")
		if err := os.WriteFile(file, []byte(serviceJob(name, count)), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := runMk(t, addr, "job", "run", file); code != 0 {
			t.Fatalf("job run %s: exit %d: %s", name, code, stderr)
		}
	}
	const warning = `Warning: no other node is ready and eligible: the pods of node "dev-1" have nowhere to go (their replacements wait unplaced); draining anyway` + "\n"

	run("solo", 1)
	stdout, stderr, code := runMk(t, addr, "node", "drain", "-enable", "-deadline", "30s", "dev-1")
	if code != 0 || stderr != warning || !strings.HasPrefix(stdout, "Node \"dev-1\": drain enabled\n") ||
		!strings.HasSuffix(stdout, "==> Node \"dev-1\" drained: no pods left\n") {
		t.Fatalf("drain of one pod: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, stderr, code := runMk(t, addr, "node", "drain", "-disable", "dev-1"); code != 0 {
		t.Fatalf("drain -disable: exit %d: %s", code, stderr)
	}
	testutil.WaitFor(t, 20*time.Second, func() (bool, error) {
		node, err := cl.Node("dev-1", nil)
		return err == nil && node.Ready(), fmt.Errorf("node %+v, %v", node, err)
	})

	run("pair", 2)
	stdout, stderr, code = runMk(t, addr, "node", "drain", "-enable", "-deadline", "3s", "dev-1")
	deadline := regexp.MustCompile(`(?m)^Error: the 3s deadline passed with pods left on node "dev-1" \(pair\.g\[\d\] \(running\)[^\n]*\); the drain goes on; mk node status dev-1 shows them\n\z`)
	progress := regexp.MustCompile(`(?m)^==> \S+: \d pods? left on node "dev-1": `)
	if code != 1 || !strings.HasPrefix(stderr, warning) || !deadline.MatchString(stderr) || !progress.MatchString(stdout) {
		t.Fatalf("drain past its deadline: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	stdout, stderr, code = runMk(t, addr, "node", "drain", "-enable", "-detach", "dev-1")
	if code != 0 || stdout != "Node \"dev-1\": drain enabled\n" || stderr != warning {
		t.Fatalf("drain -detach: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}
