package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// JobScaleCommand sets the count of a service group.
type JobScaleCommand struct{ Meta }

func (c *JobScaleCommand) Synopsis() string { return "Set the count of a service group" }

func (c *JobScaleCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job scale [options] NAME GROUP COUNT

  Sets the count of a group of a service job: a new count, not a new
  version of the job. A group with a scaling block takes a count within
  its min and max; its autoscaler takes the count as its own last scale:
  it scales in from it only after scale_down_cooldown and out only after
  scale_up_cooldown, and then only as far as the load asks.

Options:
  -message     Why: kept with the change, in the job's events.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobScaleCommand) Run(args []string) int {
	fs := c.FlagSet("job scale", false)
	message := fs.String("message", "", "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 3 {
		return c.usageError("job scale takes three arguments: the job name, the group and the count", c.Help())
	}
	name, group := fs.Arg(0), fs.Arg(1)
	count, err := strconv.Atoi(fs.Arg(2))
	if err != nil || count < 0 {
		return c.usageError(fmt.Sprintf("count must be a whole number >= 0, got %q", fs.Arg(2)), c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	res, err := client.ScaleJob(context.Background(), name, group, count, *message)
	if err != nil {
		return c.fail(err)
	}
	if res.Previous == count {
		c.Ui.Output(fmt.Sprintf("==> Job %q group %q already has count %d", name, group, count))
		return exitOK
	}
	c.Ui.Output(fmt.Sprintf("==> Job %q group %q scaled from %d to %d (index %d)", name, group, res.Previous, count, res.Index))
	return exitOK
}
