package command

import (
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/server/gossip"
)

// ServerMembersCommand lists the servers the agent sees through Serf.
type ServerMembersCommand struct{ Meta }

func (c *ServerMembersCommand) Synopsis() string { return "List the servers of the cluster" }

func (c *ServerMembersCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk server members [options]

  Lists the servers known through gossip, with their status and which one
  leads.

Options:
  -json        Print JSON.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *ServerMembersCommand) Run(args []string) int {
	fs := c.FlagSet("server members", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	members, err := client.Members()
	if err != nil {
		return c.fail(err)
	}
	leader, err := client.StatusLeader()
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(members)
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	rows := []string{row("Name", "Address", "Port", "Status", "Leader", "Datacenter")}
	for _, m := range members {
		if m.Tags[gossip.TagRole] != gossip.RoleServer {
			continue
		}
		isLeader := leader != "" && m.Tags[gossip.TagRaftAddr] == leader
		rows = append(rows, row(m.Name, m.Addr, m.Port, m.Status, isLeader, m.Tags[gossip.TagDC]))
	}
	c.Ui.Output(formatList(rows))
	return exitOK
}
