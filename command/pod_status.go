package command

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// statsTimeout bounds how long `pod status` waits for the pod's node to
// sample its tasks.
const statsTimeout = 10 * time.Second

// PodStatusCommand shows one pod.
type PodStatusCommand struct{ Meta }

func (c *PodStatusCommand) Synopsis() string {
	return "Show a pod: tasks, resource use, events, restarts, node"
}

func (c *PodStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk pod status [options] ID

  Shows a pod (ID or unique prefix): its node, phase and resources, and per
  task the state, restarts, exit code, recent events and, while the pod
  runs, the CPU and memory the task uses next to its limits (sampled now
  by the node that runs the pod).

Options:
  -json        Print the pod as JSON (without the resource use).
`)
}

func (c *PodStatusCommand) Run(args []string) int {
	fs := c.FlagSet("pod status", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("pod status takes exactly one argument, the pod ID", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	pod, err := client.Pod(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(pod)
	}
	var stats *structs.PodStats
	var statsErr error
	switch {
	case pod.Phase != structs.PodPhaseRunning:
		statsErr = fmt.Errorf("the pod is not running (phase %s)", pod.Phase)
	case pod.DesiredStatus != structs.PodDesiredRun:
		statsErr = fmt.Errorf("the pod is stopping")
	default:
		ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
		stats, statsErr = client.PodStats(ctx, pod.ID)
		cancel()
	}
	c.Ui.Output(formatPod(pod, stats, statsErr))
	return exitOK
}

// formatPod renders a pod with its tasks; stats is the tasks' resource
// use, or nil with the reason in statsErr.
func formatPod(p *structs.Pod, stats *structs.PodStats, statsErr error) string {
	res := p.Resources
	if res == nil {
		res = &structs.Resources{}
	}
	var b strings.Builder
	b.WriteString(formatKV([]string{
		row("ID", p.ID), row("Name", p.Name), row("Job", p.JobID), row("Group", p.Group),
		row("Node", p.NodeName), row("IP", p.IP), row("Desired", p.DesiredStatus), row("Phase", p.Phase),
		row("Reason", firstNonEmpty(p.Reason(), "-")), row("Healthy", p.Healthy),
		row("Resources", podResources(p, res)),
		row("Created", formatTime(p.CreateTime)),
	}))
	if stats == nil && statsErr != nil {
		fmt.Fprintf(&b, "\n\nResource use is not available: %s", oneLine(statsErr))
	}
	if len(p.Checks) > 0 {
		b.WriteString("\n\nChecks\n")
		rows := []string{row("Name", "Service", "Status", "Since", "Output")}
		for _, c := range p.Checks {
			rows = append(rows, row(c.Name, c.Service, c.Status, formatTime(c.Time), firstNonEmpty(c.Output, "-")))
		}
		b.WriteString(formatList(rows))
	}
	names := make([]string, 0, len(p.TaskStates))
	for name := range p.TaskStates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ts := p.TaskStates[name]
		fmt.Fprintf(&b, "\n\n%s\n", taskLine(name, ts))
		if len(ts.Details) > 0 {
			b.WriteString(formatTaskDetails(ts.Details) + "\n\n")
		}
		if stats != nil && stats.Tasks[name] != nil {
			b.WriteString(formatTaskResources(stats.Tasks[name]))
			b.WriteString("\n\nEvents\n")
		}
		rows := []string{row("Time", "Type", "Description")}
		for _, e := range ts.Events {
			rows = append(rows, row(formatTime(e.Time), e.Type, firstNonEmpty(e.Message, "-")))
		}
		b.WriteString(formatList(rows))
	}
	return b.String()
}

// taskLine is a task's headline: its state, restarts, and what it has
// of a next attempt, an exit code or a start failure. A task that never
// ran shows no exit code.
func taskLine(name string, ts *structs.TaskState) string {
	details := []string{fmt.Sprintf("restarts %d", ts.Restarts)}
	if ts.State == structs.TaskStateRestarting && ts.NextRestart != 0 {
		details = append(details, "next attempt "+formatTime(ts.NextRestart))
	}
	last := ""
	if n := len(ts.Events); n > 0 {
		last = ts.Events[n-1].Type
	}
	switch {
	case ts.Failed && last == structs.TaskEventDriverErr:
		details = append(details, "driver failure")
	case ts.ExitedOnce() && ts.State != structs.TaskStateRunning:
		details = append(details, fmt.Sprintf("exit code %d", ts.ExitCode))
	}
	return fmt.Sprintf("Task %q is %q (%s)", name, ts.State, strings.Join(details, ", "))
}

// formatTaskResources renders a task's resource use next to its limits:
// "CPU = 12/100 MHz" and "Memory = 3.2 MiB/64 MiB" (use that counts
// against the limit: RSS and page cache; RSS alone in parentheses).
func formatTaskResources(ts *structs.TaskStats) string {
	limits := ts.Limits
	if limits == nil {
		limits = &structs.Resources{}
	}
	cpu, mem := "-", "-"
	if u := ts.Usage; u != nil {
		cpu = fmt.Sprintf("%.0f", u.CPUMHz)
		mem = formatBytes(u.MemoryUsage)
	}
	rows := []string{
		row("CPU", fmt.Sprintf("%s/%d MHz", cpu, limits.CPU)),
		row("Memory", fmt.Sprintf("%s/%d MiB", mem, limits.MemoryMB)),
	}
	if u := ts.Usage; u != nil {
		rows[1] += fmt.Sprintf(" (RSS %s)", formatBytes(u.MemoryRSS))
	} else {
		rows = append(rows, row("Note", "the task is "+ts.State))
	}
	return "Resources\n" + formatKV(rows)
}

// formatBytes prints a byte count in binary units: "512 B", "3.2 MiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB", "TiB"}[i])
}

// oneLine flattens an error to one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
