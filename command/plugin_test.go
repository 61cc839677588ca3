package command

import (
	"strings"
	"testing"

	"github.com/hashicorp/cli"

	"github.com/mk-orchestrator/mk/drivers/exec"
)

func TestPluginUnknownDriver(t *testing.T) {
	ui := cli.NewMockUi()
	if code := RunWithUi([]string{"plugin", "nope"}, ui); code != exitError {
		t.Fatalf("exit code = %d", code)
	}
	if got := ui.ErrorWriter.String(); !strings.Contains(got, "unknown driver nope") {
		t.Fatalf("stderr = %q", got)
	}
}

// TestPluginExecWaiterByHand: the waiter needs what the exec driver sets
// up for it; typed by hand it fails without starting anything.
func TestPluginExecWaiterByHand(t *testing.T) {
	t.Setenv("MK_EXEC_WAITER", "")
	if code := RunWithUi([]string{"plugin", exec.WaiterCommand}, cli.NewMockUi()); code == 0 {
		t.Fatal("exec-waiter by hand succeeded")
	}
}
