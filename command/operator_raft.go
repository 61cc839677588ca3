package command

import (
	"context"
	"fmt"
	"strings"
)

// RaftListPeersCommand lists the Raft configuration.
type RaftListPeersCommand struct{ Meta }

func (c *RaftListPeersCommand) Synopsis() string { return "List the Raft peers" }

func (c *RaftListPeersCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk operator raft list-peers [options]

  Lists the servers of the Raft configuration and which one leads.

Options:
  -stale       Answer from the receiving server, even without a leader.
  -json        Print JSON.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *RaftListPeersCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft list-peers", true)
	stale := fs.Bool("stale", false, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	q := apiQuery(*stale)
	conf, err := client.RaftConfiguration(q)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(conf)
	}
	rows := []string{row("Node", "ID", "Address", "State", "Voter")}
	for _, s := range conf.Servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		rows = append(rows, row(s.ID, s.ID, s.Address, state, s.Voter))
	}
	c.Ui.Output(formatList(rows))
	return exitOK
}

// RaftRemovePeerCommand removes a dead server from the Raft configuration.
type RaftRemovePeerCommand struct{ Meta }

func (c *RaftRemovePeerCommand) Synopsis() string {
	return "Remove a server from the Raft configuration"
}

func (c *RaftRemovePeerCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk operator raft remove-peer [options] -peer-id ID | -peer-address ADDR

  Removes a server, usually a dead one, from the Raft configuration so the
  quorum no longer counts it.

Options:
  -peer-id ID          The server's Raft ID (its name).
  -peer-address ADDR   The server's Raft address (ip:port).
  -address             HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *RaftRemovePeerCommand) Run(args []string) int {
	fs := c.FlagSet("operator raft remove-peer", false)
	id := fs.String("peer-id", "", "")
	addr := fs.String("peer-address", "", "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if (*id == "") == (*addr == "") || fs.NArg() != 0 {
		return c.usageError("give exactly one of -peer-id or -peer-address", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if err := client.RemoveRaftPeer(context.Background(), *id, *addr); err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("Removed peer %s%s", *id, *addr))
	return exitOK
}
