package command

import (
	"strings"
)

// JobInspectCommand prints a job as JSON.
type JobInspectCommand struct{ Meta }

func (c *JobInspectCommand) Synopsis() string { return "Print a job as JSON" }

func (c *JobInspectCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job inspect [options] NAME

  Prints the stored job as JSON, as the API returns it.

Options:
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobInspectCommand) Run(args []string) int {
	fs := c.FlagSet("job inspect", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("job inspect takes exactly one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	job, _, err := client.Job(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	return c.printJSON(job)
}
