package plugin

import (
	"context"
	"strings"
	"testing"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/drivers/exec"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// TestPluginExecStreaming: a streaming exec crosses the gRPC boundary:
// input in, stdout and stderr apart, the exit code, and a terminal.
func TestPluginExecStreaming(t *testing.T) {
	requireRoot(t)
	d, client, err := Launch(selfBinary(t), exec.Name, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Kill()
	cfg := taskConfig(t, "pod-grpc-stream", "sleep", "300")
	if _, err := d.StartTask(cfg); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DestroyTask(cfg.ID, true) }()
	se := d.(drivers.StreamingExecer)
	var stdout, stderr syncbuf.Buffer
	code, err := se.ExecTaskStreaming(context.Background(), cfg.ID, &drivers.ExecStreamOptions{
		Command: []string{"sh", "-c", "read x; echo got $x; echo e >&2; exit 7"},
		Stdin:   strings.NewReader("hi\n"), Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil || code != 7 || stdout.String() != "got hi\n" || stderr.String() != "e\n" {
		t.Fatalf("exit %d, %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
	}
	var out syncbuf.Buffer
	code, err = se.ExecTaskStreaming(context.Background(), cfg.ID, &drivers.ExecStreamOptions{
		Command: []string{"tty"}, TTY: true, Stdout: &out})
	if err != nil || code != 0 || !strings.HasPrefix(out.String(), "/dev/pts/") {
		t.Fatalf("tty: exit %d, %v, output %q", code, err, out.String())
	}
}
