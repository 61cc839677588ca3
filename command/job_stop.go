package command

import (
	"context"
	"fmt"
	"strings"
)

// JobStopCommand stops a job, or purges it.
type JobStopCommand struct{ Meta }

func (c *JobStopCommand) Synopsis() string { return "Stop a job" }

func (c *JobStopCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job stop [options] NAME

  Stops a job: the objects derived from it go, its history stays and
  "mk job status NAME" shows it as dead. With -purge the job and its
  history are deleted.

Options:
  -purge       Delete the job and its history.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobStopCommand) Run(args []string) int {
	fs := c.FlagSet("job stop", false)
	purge := fs.Bool("purge", false, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("job stop takes exactly one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	res, err := client.DeregisterJob(context.Background(), fs.Arg(0), *purge)
	if err != nil {
		return c.fail(err)
	}
	verb := "stopped"
	if *purge {
		verb = "purged"
	}
	c.Ui.Output(fmt.Sprintf("==> Job %q %s (index %d)", fs.Arg(0), verb, res.Index))
	return exitOK
}
