package command

import (
	"context"
	"strings"
)

// SystemGCCommand makes the leader collect garbage now.
type SystemGCCommand struct{ Meta }

func (c *SystemGCCommand) Synopsis() string { return "Collect terminal pods and old replica sets now" }

func (c *SystemGCCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk system gc [options]

  Makes the leader collect garbage now, as Nomad's system gc does: every
  terminal pod the servers stopped (replaced, scaled down, of a stopped
  job) is deleted whatever its age and however many its owner keeps
  (pod_gc_keep), and replica sets of versions no longer kept go. Pods a
  running batch job counts (its succeeded and failed pods) stay. Clients
  then remove what those pods left on their nodes.
`)
}

func (c *SystemGCCommand) Run(args []string) int {
	fs := c.FlagSet("system gc", false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 0 {
		return c.usageError("system gc takes no arguments", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if err := client.SystemGC(context.Background()); err != nil {
		return c.fail(err)
	}
	c.Ui.Output("==> Garbage collected")
	return exitOK
}
