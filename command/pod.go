package command

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// PodListCommand lists pods.
type PodListCommand struct{ Meta }

func (c *PodListCommand) Synopsis() string { return "List pods" }

func (c *PodListCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk pod list [options]

  Lists the pods of the namespace with their node and phase. Terminal pods
  that ended more than half the servers' pod_gc_threshold ago are left out
  unless -all is given; the servers collect them at the threshold.

Options:
  -job NAME      Only the pods of one job.
  -node NODE     Only the pods on one node (name, ID or ID prefix).
  -status PHASE  Only the pods in one phase: pending, running, succeeded,
                 failed or lost.
  -all           Terminal pods of any age too.
  -verbose       Full IDs.
  -json          Print JSON.
`)
}

func (c *PodListCommand) Run(args []string) int {
	fs := c.FlagSet("pod list", true)
	var f api.PodFilter
	fs.StringVar(&f.Job, "job", "", "")
	fs.StringVar(&f.Node, "node", "", "")
	fs.StringVar(&f.Phase, "status", "", "")
	all := fs.Bool("all", false, "")
	verbose := fs.Bool("verbose", false, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	f.Recent = !*all
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	pods, _, err := client.PodsWith(f, nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(pods)
	}
	c.Ui.Output(formatPods(pods, *verbose))
	return exitOK
}

// formatPods renders pods as a table.
func formatPods(pods []*structs.Pod, verbose bool) string {
	sort.Slice(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.DesiredStatus != b.DesiredStatus {
			return a.DesiredStatus < b.DesiredStatus // run before stop
		}
		return a.CreateIndex < b.CreateIndex
	})
	rows := []string{row("ID", "Name", "Node", "IP", "Desired", "Phase", "Restarts", "Reason")}
	for _, p := range pods {
		restarts := 0
		for _, ts := range p.TaskStates {
			restarts += ts.Restarts
		}
		node := p.NodeName
		if node == "" {
			node = "<unplaced>"
		}
		reason := firstNonEmpty(p.Reason(), "-")
		rows = append(rows, row(shortID(p.ID, verbose), p.Name, node, firstNonEmpty(p.IP, "-"), p.DesiredStatus, p.Phase, restarts, reason))
	}
	return formatList(rows)
}

// PodStopCommand stops a pod.
type PodStopCommand struct{ Meta }

func (c *PodStopCommand) Synopsis() string { return "Stop a pod (its owner replaces it)" }

func (c *PodStopCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk pod stop [options] ID

  Stops a pod (ID or unique prefix). A pod of a replica set is replaced.
`)
}

func (c *PodStopCommand) Run(args []string) int {
	fs := c.FlagSet("pod stop", false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("pod stop takes exactly one argument, the pod ID", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if err := client.StopPod(context.Background(), fs.Arg(0)); err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("==> Pod %q stopping", fs.Arg(0)))
	return exitOK
}

// PodLogsCommand prints a task's log.
type PodLogsCommand struct{ Meta }

// defaultTailLines is how many lines -tail and -f show without -n.
const defaultTailLines = 10

func (c *PodLogsCommand) Synopsis() string { return "Print a pod's task log" }

func (c *PodLogsCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk pod logs [options] ID

  Prints the stdout (or, with -stderr, the stderr) log of a pod's task. The
  node that runs the pod serves it; servers forward the request there.

Options:
  -f           Follow the log as the task writes it, starting with its
               last lines (10, or -n), as tail -f does.
  -tail        Print only the last lines of the log (10, or -n).
  -n N         How many lines -tail or -f start with; implies -tail.
  -stderr      The stderr log instead of stdout.
  -task NAME   The task (needed when the pod has several).
`)
}

func (c *PodLogsCommand) Run(args []string) int {
	fs := c.FlagSet("pod logs", false)
	var opts api.LogOptions
	fs.BoolVar(&opts.Follow, "f", false, "")
	fs.BoolVar(&opts.Stderr, "stderr", false, "")
	fs.StringVar(&opts.Task, "task", "", "")
	tail := fs.Bool("tail", false, "")
	lines := fs.Int("n", -1, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("pod logs takes exactly one argument, the pod ID", c.Help())
	}
	n, err := tailLines(*tail, opts.Follow, *lines)
	if err != nil {
		return c.usageError(err.Error(), c.Help())
	}
	opts.Tail = n
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := client.PodLogsWith(ctx, fs.Arg(0), opts, os.Stdout); err != nil && ctx.Err() == nil {
		return c.fail(err)
	}
	return exitOK
}

// tailLines is how many last lines pod logs starts with: 0 for the whole
// log; -n N (N >= 1) or 10 with -tail or -f.
func tailLines(tail, follow bool, n int) (int, error) {
	switch {
	case n == 0 || n < -1:
		return 0, fmt.Errorf("-n must be a number of lines >= 1, got %d", n)
	case n > 0:
		return n, nil
	case tail || follow:
		return defaultTailLines, nil
	}
	return 0, nil
}
