package command

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// Exit codes of job plan, as Nomad's: 0 nothing would change, 1 something
// would, 255 the plan failed.
const (
	planNoChange = 0
	planChanges  = 1
	planError    = 255
)

// JobPlanCommand shows what running a job file would change.
type JobPlanCommand struct{ Meta }

func (c *JobPlanCommand) Synopsis() string { return "Show what running a job would change" }

func (c *JobPlanCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job plan [options] FILE

  Shows the objects a run of the job file would create (+), change (~) or
  delete (-), with the changed fields, then the scheduler's dry run: per
  group, how many pods would be placed, replaced, stopped or kept, and a
  warning with the scheduler's reasons when some would fit on no node.
  Nothing is changed. Exits 0 when nothing would change, 1 when something
  would, 255 on error.

Options:
  -var 'key=value'    Set a variable of the job file (may repeat).
  -var-file FILE      Read variables from an HCL file (may repeat).
  -json               Print the plan as JSON.
  -address ADDR       HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *JobPlanCommand) Run(args []string) int {
	fs := c.FlagSet("job plan", true)
	var files jobFileFlags
	files.register(fs)
	if !c.parseFlags(fs, args) {
		return planError
	}
	if fs.NArg() != 1 {
		c.usageError("job plan takes exactly one argument, the job file", c.Help())
		return planError
	}
	job, err := files.parse(fs.Arg(0), c.namespace)
	if err != nil {
		c.fail(err)
		return planError
	}
	client, err := c.Client()
	if err != nil {
		c.fail(err)
		return planError
	}
	plan, err := client.PlanJob(context.Background(), job)
	if err != nil {
		c.fail(err)
		return planError
	}
	changed := planChanged(plan)
	if c.json {
		c.printJSON(plan)
	} else {
		c.Ui.Output(formatPlan(job.ID, plan))
		if dry := formatDryRun(plan); dry != "" {
			c.Ui.Output("\n" + dry)
		}
		c.Ui.Output(fmt.Sprintf("\nJob Modify Index: %d\nTo submit the job with version verification run:\n\nmk job run -check-index %d %s",
			plan.JobModifyIndex, plan.JobModifyIndex, fs.Arg(0)))
	}
	if changed {
		return planChanges
	}
	return planNoChange
}

func planChanged(p *structs.JobPlan) bool {
	if p.Type != structs.DiffNone {
		return true
	}
	for _, o := range p.Objects {
		if o.Type != structs.DiffNone {
			return true
		}
	}
	return false
}

var diffMarks = map[string]string{
	structs.DiffAdded: "+", structs.DiffEdited: "~", structs.DiffDeleted: "-", structs.DiffNone: " ",
}

// formatPlan renders a plan as a diff, Nomad style.
func formatPlan(jobID string, p *structs.JobPlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s Job: %q\n", diffMarks[p.Type], jobID)
	writeFields(&b, "  ", p.JobFields)
	for _, o := range p.Objects {
		fmt.Fprintf(&b, "%s %s: %q\n", diffMarks[o.Type], o.Kind, o.ID)
		writeFields(&b, "  ", o.Fields)
	}
	return strings.TrimRight(b.String(), "\n")
}

func writeFields(b *strings.Builder, indent string, fields []structs.FieldDiff) {
	for _, f := range fields {
		switch {
		case f.Old == "":
			fmt.Fprintf(b, "%s+ %s: %q\n", indent, f.Path, f.New)
		case f.New == "":
			fmt.Fprintf(b, "%s- %s: %q\n", indent, f.Path, f.Old)
		default:
			fmt.Fprintf(b, "%s~ %s: %q => %q\n", indent, f.Path, f.Old, f.New)
		}
	}
}

// formatDryRun renders the scheduler's dry run of a plan, groups by name:
//
//	Scheduler dry-run:
//	- group "web": 2 to place, 0 to replace, 0 to stop, 1 kept
//	WARNING: Failed to place all pods
//	  group "web" (failed to place 2 pods):
//	    * no node has driver "docker"
func formatDryRun(p *structs.JobPlan) string {
	if len(p.Placements) == 0 && len(p.FailedPlacements) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Scheduler dry-run:\n")
	for _, g := range sortedKeys(p.Placements) {
		s := p.Placements[g]
		fmt.Fprintf(&b, "- group %q: %d to place, %d to replace, %d to stop, %d kept", g, s.Place, s.Replace, s.Stop, s.Keep)
		if s.Canaries > 0 {
			fmt.Fprintf(&b, " (%s, then waits for mk job promote)", fmt.Sprintf("%d as canaries", s.Canaries))
		}
		b.WriteString("\n")
	}
	if len(p.FailedPlacements) > 0 {
		b.WriteString("WARNING: Failed to place all pods\n")
	}
	for _, g := range sortedKeys(p.FailedPlacements) {
		f := p.FailedPlacements[g]
		fmt.Fprintf(&b, "  group %q (failed to place %s):\n", g, plural(f.Failed, "pod"))
		for _, r := range f.Reasons {
			fmt.Fprintf(&b, "    * %s\n", r)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
