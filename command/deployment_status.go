package command

import (
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// DeploymentStatusCommand shows a job's deployments and follows a
// rollout in progress (`mk job deployment status`, `mk deployment
// status`).
type DeploymentStatusCommand struct{ Meta }

func (c *DeploymentStatusCommand) Synopsis() string { return "Show and follow the rollout of a job" }

func (c *DeploymentStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job deployment status [options] NAME
       mk deployment status [options] NAME

  Shows each deployment of a service job: its version, status, and pods
  desired, placed, healthy and unhealthy, old pods left and canaries. A
  rollout in progress is followed until it completes (exit 0) or fails
  (exit 2), as mk job run does.

Options:
  -no-follow   Show the status once and return.
  -json        Print JSON (implies -no-follow).
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *DeploymentStatusCommand) Run(args []string) int {
	fs := c.FlagSet("deployment status", true)
	noFollow := fs.Bool("no-follow", false, "show once")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("deployment status takes exactly one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	deps, _, err := client.JobDeployments(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(deps)
	}
	if len(deps) == 0 {
		c.Ui.Output("No deployments (only service jobs have them)")
		return exitOK
	}
	c.Ui.Output(formatDeployments(deps))
	if _, done := rolloutOutcome(deps); done || *noFollow {
		return exitOK
	}
	c.Ui.Output("")
	return c.followDeployments(client, fs.Arg(0), 0)
}

// formatDeployments is the table of a job's deployments.
func formatDeployments(deps []*structs.DeploymentProgress) string {
	sort.Slice(deps, func(i, j int) bool { return deps[i].Group < deps[j].Group })
	rows := []string{row("Group", "Version", "Status", "Desired", "Placed", "Healthy", "Unhealthy", "Old", "Canaries", "Description")}
	for _, d := range deps {
		canaries := "-"
		if d.Canaries > 0 {
			canaries = strings.TrimSpace(row(d.Canaries))
		}
		rows = append(rows, row(d.Group, d.JobVersion, d.Status, d.Desired, d.Placed, d.Healthy, d.Unhealthy, d.OldPods, canaries, d.StatusDescription))
	}
	return formatList(rows)
}
