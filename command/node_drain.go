package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// NodeDrainCommand enables or disables a node's drain and, enabling it,
// waits until the node's pods are stopped or moved.
type NodeDrainCommand struct{ Meta }

// drainWaitChunk bounds one blocking query while drain waits.
const drainWaitChunk = 30 * time.Second

func (c *NodeDrainCommand) Synopsis() string { return "Drain a node of its pods" }

func (c *NodeDrainCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk node drain -enable|-disable [options] ID

  -enable stops the node's pods so their owners replace them on other
  nodes, and makes the node ineligible; then it waits, printing progress,
  until no pod runs on the node (exit 0) or the deadline passes (exit 1;
  the drain goes on). When no other node is ready and eligible, it says
  that the pods have nowhere to go, and drains anyway. -disable ends the
  drain and makes the node eligible again.

Options:
  -deadline D  How long to wait for the pods to stop (default 1h).
  -detach      Return as soon as the drain is set, without waiting.
`)
}

func (c *NodeDrainCommand) Run(args []string) int {
	fs := c.FlagSet("node drain", false)
	enable := fs.Bool("enable", false, "")
	disable := fs.Bool("disable", false, "")
	deadline := fs.Duration("deadline", time.Hour, "")
	detach := fs.Bool("detach", false, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if *enable == *disable || fs.NArg() != 1 {
		return c.usageError("node drain takes one of -enable or -disable and a node ID", c.Help())
	}
	if *deadline <= 0 {
		return c.usageError(fmt.Sprintf("-deadline must be > 0, got %s", *deadline), c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	node, err := client.Node(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	if *enable {
		if err := c.warnNowhereToGo(client, node); err != nil {
			return c.fail(err)
		}
	}
	if err := client.DrainNode(context.Background(), node.ID, *enable); err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("Node %q: drain %s", fs.Arg(0), map[bool]string{true: "enabled", false: "disabled"}[*enable]))
	if !*enable || *detach {
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *deadline)
	defer cancel()
	return c.waitDrained(ctx, client, node, *deadline)
}

// warnNowhereToGo says, on one line to stderr, when no other node is
// ready and eligible to take the drained node's pods.
func (c *NodeDrainCommand) warnNowhereToGo(client *api.Client, node *structs.Node) error {
	nodes, _, err := client.Nodes(nil)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes {
		if n.ID != node.ID && n.Ready() {
			return nil
		}
	}
	c.Ui.Error(fmt.Sprintf("Warning: no other node is ready and eligible: the pods of node %q have nowhere to go (their replacements wait unplaced); draining anyway", node.Name))
	return nil
}

// waitDrained watches the node's pods until none is left running or
// stopping, printing each change of what is left.
func (c *NodeDrainCommand) waitDrained(ctx context.Context, client *api.Client, node *structs.Node, deadline time.Duration) int {
	var index uint64
	last := ""
	for {
		pods, meta, err := client.NodePods(ctx, node.ID, &api.QueryOptions{WaitIndex: index, WaitTime: drainWaitChunk})
		switch {
		case ctx.Err() != nil:
			return c.drainDeadline(ctx, node, last, deadline)
		case err != nil:
			return c.fail(fmt.Errorf("watch the pods of node %q: %w", node.Name, err))
		}
		left := podsLeft(pods)
		if len(left) == 0 {
			c.Ui.Output(fmt.Sprintf("==> Node %q drained: no pods left", node.Name))
			return exitOK
		}
		if now := strings.Join(left, ", "); now != last {
			c.Ui.Output(fmt.Sprintf("==> %s: %s left on node %q: %s", time.Now().UTC().Format(time.RFC3339), plural(len(left), "pod"), node.Name, now))
			last = now
		}
		index = meta.LastIndex
	}
}

// drainDeadline reports why waitDrained stopped waiting.
func (c *NodeDrainCommand) drainDeadline(ctx context.Context, node *structs.Node, left string, deadline time.Duration) int {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		c.Ui.Error(fmt.Sprintf("Interrupted: node %q still drains; mk node status %s shows its pods", node.Name, node.Name))
		return exitError
	}
	c.Ui.Error(fmt.Sprintf("Error: the %s deadline passed with pods left on node %q (%s); the drain goes on; mk node status %s shows them",
		deadline, node.Name, left, node.Name))
	return exitError
}

// podsLeft names the node's pods not yet finished: running, or stopping.
func podsLeft(pods []*structs.Pod) []string {
	var left []string
	for _, p := range pods {
		if !p.Terminal() {
			left = append(left, fmt.Sprintf("%s (%s)", p.Name, podState(p)))
		}
	}
	sort.Strings(left)
	return left
}

// podState is "running", "pending" or "stopping".
func podState(p *structs.Pod) string {
	if p.DesiredStatus == structs.PodDesiredStop {
		return "stopping"
	}
	return string(p.Phase)
}
