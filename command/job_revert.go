package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// JobRevertCommand rolls a job back to one of its kept versions.
type JobRevertCommand struct{ Meta }

func (c *JobRevertCommand) Synopsis() string { return "Roll a job back to an earlier version" }

func (c *JobRevertCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job revert [options] NAME VERSION

  Registers version VERSION of a job (see mk job history) as its newest
  version. Its deployments roll back to it through the same bounded steps
  as any rollout; the command follows the rollout like mk job run.

Options:
  -check-index N  Revert only if the job's modify index is still N (409
                  otherwise).
  -detach         Return once the revert is written.
  -json           Print JSON.
  -address        HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace      Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobRevertCommand) Run(args []string) int {
	fs := c.FlagSet("job revert", true)
	checkIndex := fs.Int64("check-index", -1, "job modify index the revert expects")
	detach := fs.Bool("detach", false, "do not follow the rollout")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 2 {
		return c.usageError("job revert takes two arguments, the job name and a version", c.Help())
	}
	version, err := strconv.ParseUint(fs.Arg(1), 10, 64)
	if err != nil {
		return c.usageError(fmt.Sprintf("version %q is not a number", fs.Arg(1)), c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	body := &structs.JobRevertBody{Version: version}
	if *checkIndex >= 0 {
		body.EnforceIndex, body.JobModifyIndex = true, uint64(*checkIndex)
	}
	resp, err := client.RevertJob(context.Background(), fs.Arg(0), body)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(resp)
	}
	c.Ui.Output(fmt.Sprintf("==> Job %q reverted to version %d (now version %d)", fs.Arg(0), version, resp.Version))
	if *detach {
		return exitOK
	}
	return c.followDeployments(client, fs.Arg(0), 0)
}

// JobPromoteCommand promotes a job's canaries.
type JobPromoteCommand struct{ Meta }

func (c *JobPromoteCommand) Synopsis() string { return "Promote the canaries of a job's rollout" }

func (c *JobPromoteCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job promote [options] NAME

  Promotes the canaries of every deployment of a job that waits for it:
  the rollout goes on and replaces the remaining pods of the old version.
  It follows the rollout like mk job run.

Options:
  -detach      Return once the promotion is written.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobPromoteCommand) Run(args []string) int {
	fs := c.FlagSet("job promote", false)
	detach := fs.Bool("detach", false, "do not follow the rollout")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("job promote takes exactly one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	_, err = client.PromoteJob(context.Background(), fs.Arg(0))
	if err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("==> Canaries of job %q promoted", fs.Arg(0)))
	if *detach {
		return exitOK
	}
	return c.followDeployments(client, fs.Arg(0), 0)
}
