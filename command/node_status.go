package command

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// NodeStatusCommand lists nodes or shows one.
type NodeStatusCommand struct{ Meta }

func (c *NodeStatusCommand) Synopsis() string { return "List client nodes or show one" }

func (c *NodeStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk node status [options] [ID]

  Without ID, lists the client nodes. With ID (a unique prefix or the node
  name), shows the node, its resources, drivers and pods.

Options:
  -verbose     Show full IDs and the node's attributes.
  -json        Print JSON.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *NodeStatusCommand) Run(args []string) int {
	fs := c.FlagSet("node status", true)
	verbose := fs.Bool("verbose", false, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() > 1 {
		return c.usageError("node status takes at most one argument, the node ID", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if fs.NArg() == 0 {
		nodes, _, err := client.Nodes(nil)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(nodes)
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		rows := []string{row("ID", "Name", "DC", "Address", "Status", "Eligibility", "Drain")}
		for _, n := range nodes {
			rows = append(rows, row(shortID(n.ID, *verbose), n.Name, n.Datacenter, n.Address, n.Status, n.Eligibility, n.Drain))
		}
		c.Ui.Output(formatList(rows))
		return exitOK
	}
	node, err := client.Node(fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	pods, _, err := client.NodePods(context.Background(), node.ID, nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"Node": node, "Pods": pods})
	}
	c.Ui.Output(formatNode(node, pods, *verbose))
	return exitOK
}

func formatNode(n *structs.Node, pods []*structs.Pod, verbose bool) string {
	var drivers []string
	for name, d := range n.Drivers {
		if d.Healthy {
			drivers = append(drivers, name)
		}
	}
	sort.Strings(drivers)
	res := n.Resources
	if res == nil {
		res = &structs.NodeResources{}
	}
	var b strings.Builder
	b.WriteString(formatKV([]string{
		row("ID", shortID(n.ID, verbose)), row("Name", n.Name), row("Datacenter", n.Datacenter),
		row("Address", n.Address), row("Network Address", firstNonEmpty(n.NetworkAddress, "-")),
		row("Pod CIDR", firstNonEmpty(n.PodCIDR, "-")), row("Status", n.Status), row("Eligibility", n.Eligibility),
		row("Drain", n.Drain), row("Drivers", strings.Join(drivers, ",")),
		row("Resources", fmt.Sprintf("cpu %d MHz, memory %d MiB, gpus %d", res.CPU, res.MemoryMB, res.GPUs)),
		row("Allocated", allocated(res, pods)),
	}))
	if verbose {
		b.WriteString(formatNodeGPUs(n))
	}
	if verbose && len(n.Attributes) > 0 {
		var attrs []string
		for k, v := range n.Attributes {
			attrs = append(attrs, row(k, v))
		}
		sort.Strings(attrs)
		b.WriteString("\n\nAttributes\n" + formatKV(attrs))
	}
	b.WriteString("\n\nPods\n" + formatPods(pods, verbose))
	return b.String()
}

// allocated sums what the node's active pods were given, against its
// capacity: what the scheduler counts when it places more.
func allocated(capacity *structs.NodeResources, pods []*structs.Pod) string {
	var used structs.Resources
	for _, p := range pods {
		if p.Active() && p.Resources != nil {
			used.CPU += p.Resources.CPU
			used.MemoryMB += p.Resources.MemoryMB
			used.GPUs += p.Resources.GPUs
		}
	}
	return fmt.Sprintf("cpu %d/%d MHz, memory %d/%d MiB, gpus %d/%d",
		used.CPU, capacity.CPU, used.MemoryMB, capacity.MemoryMB, used.GPUs, capacity.GPUs)
}

// shortID shortens an ID to 8 characters unless verbose.
func shortID(id string, verbose bool) string {
	if verbose || len(id) <= 8 {
		return id
	}
	return id[:8]
}

// NodeEligibilityCommand toggles whether new pods may be placed on a node.
type NodeEligibilityCommand struct{ Meta }

func (c *NodeEligibilityCommand) Synopsis() string { return "Toggle a node's scheduling eligibility" }

func (c *NodeEligibilityCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk node eligibility -enable|-disable [options] ID

  Makes a node eligible (-enable) or ineligible (-disable) for new pods.
  Pods already there keep running.
`)
}

func (c *NodeEligibilityCommand) Run(args []string) int {
	return c.toggle(args, "node eligibility", "enable", "disable", func(id string, on bool) error {
		client, err := c.Client()
		if err != nil {
			return err
		}
		return client.SetNodeEligibility(context.Background(), id, on)
	}, c.Help())
}

// toggle parses -on|-off ID and runs fn.
func (m *Meta) toggle(args []string, name, on, off string, fn func(id string, on bool) error, help string) int {
	fs := m.FlagSet(name, false)
	enable := fs.Bool(on, false, "")
	disable := fs.Bool(off, false, "")
	if !m.parseFlags(fs, args) {
		return exitError
	}
	if *enable == *disable || fs.NArg() != 1 {
		return m.usageError(fmt.Sprintf("%s takes one of -%s or -%s and a node ID", name, on, off), help)
	}
	if err := fn(fs.Arg(0), *enable); err != nil {
		return m.fail(err)
	}
	m.Ui.Output(fmt.Sprintf("Node %q: %s %sd", fs.Arg(0), strings.TrimPrefix(name, "node "), map[bool]string{true: on, false: off}[*enable]))
	return exitOK
}

// NodePurgeCommand removes a node that is gone for good.
type NodePurgeCommand struct{ Meta }

func (c *NodePurgeCommand) Synopsis() string { return "Remove a node that is gone for good" }

func (c *NodePurgeCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk node purge [options] ID

  Removes a node that is down or left (ID, unique prefix or name): its
  pod subnet goes back to the pool and its pods are replaced elsewhere.
  A ready node is refused: stop its client first. A purged client that
  comes back registers again, asking for its old subnet.

Options:
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *NodePurgeCommand) Run(args []string) int {
	fs := c.FlagSet("node purge", false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("node purge takes one argument, the node ID", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if err := client.PurgeNode(context.Background(), fs.Arg(0)); err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("Node %q purged", fs.Arg(0)))
	return exitOK
}
