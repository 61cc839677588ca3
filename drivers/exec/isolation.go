package exec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec/internal/mountns"
)

// Isolation (the default; raw_exec opts out): a task runs under an init
// of its own in new PID, IPC, UTS and mount namespaces (internal/waiter),
// with the pod's name as host name and a private /tmp: the directory tmp
// of its task directory, bind-mounted at /tmp. Where the pods' directories
// are themselves under /tmp (a dev agent's), the pod's directory is
// mounted again at its own path inside that private /tmp, so the task
// still finds its working directory, logs and volumes where its
// environment says they are.

// privateTmp returns the mounts that give a task its own /tmp, and
// creates the directory behind it. A task that mounts a volume at /tmp
// gets that instead.
func privateTmp(cfg *drivers.TaskConfig, mounts mountTable) (mountTable, error) {
	for _, m := range mounts {
		if m.Target == "/tmp" {
			return nil, nil
		}
	}
	dir := filepath.Join(cfg.TaskDir, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("private /tmp: %w", err)
	}
	// World-writable and sticky, as /tmp is (MkdirAll is subject to the
	// umask).
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		return nil, fmt.Errorf("private /tmp: %w", err)
	}
	out := mountTable{{Volume: "tmp", Source: dir, Target: "/tmp"}}
	podDir := filepath.Dir(cfg.TaskDir)
	if strings.HasPrefix(podDir, "/tmp/") {
		out = append(out, mountns.Mount{Volume: "pod", Source: podDir, Target: podDir})
	}
	return out, nil
}

// hostname is the task's host name: its pod's name made a valid host
// name ("web.web[0]" becomes "web.web-0"), or the pod ID.
func hostname(cfg *drivers.TaskConfig) string {
	name := cfg.Env()["MK_POD_NAME"]
	if name == "" {
		name = cfg.PodID
	}
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	h := strings.Trim(string(b), "-.")
	if len(h) > 63 {
		h = strings.Trim(h[:63], "-.")
	}
	if h == "" {
		return "task"
	}
	return h
}
