package command

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mk-orchestrator/mk/api"
)

// SnapshotSaveCommand saves the cluster state to a file.
type SnapshotSaveCommand struct{ Meta }

func (c *SnapshotSaveCommand) Synopsis() string { return "Save a snapshot of the cluster state" }

func (c *SnapshotSaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk operator snapshot save [options] FILE

  Writes a point-in-time snapshot of the whole cluster state, taken on the
  leader, to FILE.

Options:
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *SnapshotSaveCommand) Run(args []string) int {
	fs := c.FlagSet("operator snapshot save", false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("snapshot save takes exactly one argument, the file", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	path := fs.Arg(0)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return c.fail(err)
	}
	err = client.SnapshotSave(context.Background(), f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("State file written to %s", path))
	return exitOK
}

// SnapshotRestoreCommand replaces the cluster state with a saved one.
type SnapshotRestoreCommand struct{ Meta }

func (c *SnapshotRestoreCommand) Synopsis() string {
	return "Restore the cluster state from a snapshot"
}

func (c *SnapshotRestoreCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk operator snapshot restore [options] FILE

  Replaces the whole cluster state with a snapshot written by
  "mk operator snapshot save". The file is checked before anything changes.

Options:
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *SnapshotRestoreCommand) Run(args []string) int {
	fs := c.FlagSet("operator snapshot restore", false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("snapshot restore takes exactly one argument, the file", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return c.fail(err)
	}
	defer f.Close()
	if err := client.SnapshotRestore(context.Background(), f); err != nil {
		return c.fail(err)
	}
	c.Ui.Output("Snapshot restored")
	return exitOK
}

// apiQuery returns read options with ?stale when asked.
func apiQuery(stale bool) *api.QueryOptions {
	return &api.QueryOptions{Stale: stale}
}
