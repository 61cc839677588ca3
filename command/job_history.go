package command

import (
	"fmt"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// JobHistoryCommand lists a job's kept versions.
type JobHistoryCommand struct{ Meta }

func (c *JobHistoryCommand) Synopsis() string { return "Show the versions of a job" }

func (c *JobHistoryCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job history [options] NAME

  Lists the kept versions of a job, newest first, with what changed from
  the version before. Roll back with mk job revert NAME VERSION.

Options:
  -p           Show the diff of each version against the one before it.
  -json        Print JSON.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobHistoryCommand) Run(args []string) int {
	fs := c.FlagSet("job history", true)
	diffs := fs.Bool("p", false, "show each version's diff")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("job history takes exactly one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	versions, _, err := client.JobVersions(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(versions)
	}
	if *diffs {
		c.Ui.Output(formatVersionDiffs(versions))
		return exitOK
	}
	rows := []string{row("Version", "Stopped", "Submit Date", "Changes")}
	for i, v := range versions {
		changes := "<initial>"
		if i+1 < len(versions) {
			changes = versionChanges(versions[i+1], v)
		}
		rows = append(rows, row(v.Version, v.Stop, formatTime(v.SubmitTime), changes))
	}
	c.Ui.Output(formatList(rows))
	return exitOK
}

// versionChanges lists what changed from one version of a job to the
// next: a stop or start ("Stop: false => true", which Diff skips as a
// field the servers set) and the changed spec fields' paths.
func versionChanges(old, new *structs.Job) string {
	var changes []string
	if old.Stop != new.Stop {
		changes = append(changes, fmt.Sprintf("Stop: %t => %t", old.Stop, new.Stop))
	}
	for _, d := range structs.Diff(old, new) {
		changes = append(changes, d.Path)
	}
	if len(changes) == 0 {
		return "<none>"
	}
	return strings.Join(changes, ",")
}

// formatVersionDiffs shows each version with its field changes against
// the version before it, newest first.
func formatVersionDiffs(versions []*structs.Job) string {
	var b strings.Builder
	for i, v := range versions {
		fmt.Fprintf(&b, "Version     = %d\nStopped     = %t\nSubmit Date = %s\n", v.Version, v.Stop, formatTime(v.SubmitTime))
		if i+1 < len(versions) {
			old := versions[i+1]
			fmt.Fprintf(&b, "Diff against version %d:\n", old.Version)
			if old.Stop != v.Stop {
				fmt.Fprintf(&b, "  ~ Stop: %q => %q\n", fmt.Sprint(old.Stop), fmt.Sprint(v.Stop))
			}
			writeFields(&b, "  ", structs.Diff(old, v))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
