package command

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/cli"

	"github.com/mk-orchestrator/mk/version"
)

// Run runs the CLI with args (without the program name) and returns the
// exit code.
func Run(args []string) int {
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr}
	return RunWithUi(args, ui)
}

// RunWithUi runs the CLI writing to ui; tests use it to capture output.
func RunWithUi(args []string, ui cli.Ui) int { return runCLI(args, ui, os.Stdout) }

// runCLI runs the CLI writing to ui, and help to helpWriter.
func runCLI(args []string, ui cli.Ui, helpWriter io.Writer) int {
	commands := Commands(ui)
	args, err := hoistGlobalFlags(args, func(name string) bool { _, ok := commands[name]; return ok })
	if err != nil {
		ui.Error("Error: " + err.Error())
		return exitError
	}
	c := &cli.CLI{
		HiddenCommands: []string{"plugin", "pause"},
		Name:           "mk",
		Version:        version.String(),
		Args:           args,
		Commands:       commands,
		HelpWriter:     helpWriter,
		Autocomplete:   false,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error("Error: " + err.Error())
		return exitError
	}
	return code
}

// Commands returns every command by its name.
func Commands(ui cli.Ui) map[string]cli.CommandFactory {
	cmd := func(f func(Meta) cli.Command) cli.CommandFactory {
		return func() (cli.Command, error) { return f(Meta{Ui: ui}), nil }
	}
	commands := map[string]cli.CommandFactory{
		"agent":                     cmd(func(m Meta) cli.Command { return &AgentCommand{Meta: m} }),
		"job run":                   cmd(func(m Meta) cli.Command { return &JobRunCommand{Meta: m} }),
		"job plan":                  cmd(func(m Meta) cli.Command { return &JobPlanCommand{Meta: m} }),
		"job status":                cmd(func(m Meta) cli.Command { return &JobStatusCommand{Meta: m} }),
		"job stop":                  cmd(func(m Meta) cli.Command { return &JobStopCommand{Meta: m} }),
		"job history":               cmd(func(m Meta) cli.Command { return &JobHistoryCommand{Meta: m} }),
		"job revert":                cmd(func(m Meta) cli.Command { return &JobRevertCommand{Meta: m} }),
		"job promote":               cmd(func(m Meta) cli.Command { return &JobPromoteCommand{Meta: m} }),
		"job deployment status":     cmd(func(m Meta) cli.Command { return &DeploymentStatusCommand{Meta: m} }),
		"deployment status":         cmd(func(m Meta) cli.Command { return &DeploymentStatusCommand{Meta: m} }),
		"job scale":                 cmd(func(m Meta) cli.Command { return &JobScaleCommand{Meta: m} }),
		"job inspect":               cmd(func(m Meta) cli.Command { return &JobInspectCommand{Meta: m} }),
		"job validate":              cmd(func(m Meta) cli.Command { return &JobValidateCommand{Meta: m} }),
		"job init":                  cmd(func(m Meta) cli.Command { return &JobInitCommand{Meta: m} }),
		"node status":               cmd(func(m Meta) cli.Command { return &NodeStatusCommand{Meta: m} }),
		"node drain":                cmd(func(m Meta) cli.Command { return &NodeDrainCommand{Meta: m} }),
		"node eligibility":          cmd(func(m Meta) cli.Command { return &NodeEligibilityCommand{Meta: m} }),
		"node purge":                cmd(func(m Meta) cli.Command { return &NodePurgeCommand{Meta: m} }),
		"pod list":                  cmd(func(m Meta) cli.Command { return &PodListCommand{Meta: m} }),
		"pod status":                cmd(func(m Meta) cli.Command { return &PodStatusCommand{Meta: m} }),
		"pod stop":                  cmd(func(m Meta) cli.Command { return &PodStopCommand{Meta: m} }),
		"pod logs":                  cmd(func(m Meta) cli.Command { return &PodLogsCommand{Meta: m} }),
		"pod exec":                  cmd(func(m Meta) cli.Command { return &PodExecCommand{Meta: m} }),
		"service list":              cmd(func(m Meta) cli.Command { return &ServiceListCommand{Meta: m} }),
		"service status":            cmd(func(m Meta) cli.Command { return &ServiceStatusCommand{Meta: m} }),
		"server members":            cmd(func(m Meta) cli.Command { return &ServerMembersCommand{Meta: m} }),
		"operator raft list-peers":  cmd(func(m Meta) cli.Command { return &RaftListPeersCommand{Meta: m} }),
		"operator raft remove-peer": cmd(func(m Meta) cli.Command { return &RaftRemovePeerCommand{Meta: m} }),
		"operator snapshot save":    cmd(func(m Meta) cli.Command { return &SnapshotSaveCommand{Meta: m} }),
		"operator snapshot restore": cmd(func(m Meta) cli.Command { return &SnapshotRestoreCommand{Meta: m} }),
		"system gc":                 cmd(func(m Meta) cli.Command { return &SystemGCCommand{Meta: m} }),
		"event stream":              cmd(func(m Meta) cli.Command { return &EventStreamCommand{Meta: m} }),
		"version":                   cmd(func(m Meta) cli.Command { return &VersionCommand{Meta: m} }),
		"plugin":                    cmd(func(m Meta) cli.Command { return &PluginCommand{Meta: m} }),
		"pause":                     cmd(func(m Meta) cli.Command { return &PauseCommand{Meta: m} }),
	}
	// Groups only group subcommands; hashicorp/cli lists them.
	groups := map[string]string{
		"job":               "Run, plan, validate, inspect, scale, roll out and stop jobs",
		"job deployment":    "Follow the rollout of a job",
		"deployment":        "Follow the rollout of a job (as mk job deployment)",
		"node":              "Inspect and manage client nodes",
		"pod":               "List and inspect pods, read their logs, exec in and stop them",
		"server":            "Inspect the servers",
		"service":           "List services and show their endpoints",
		"operator":          "Cluster operations",
		"operator raft":     "Inspect and change Raft membership",
		"operator snapshot": "Save and restore the cluster state",
		"system":            "Cluster-wide maintenance: garbage collection",
		"event":             "Follow the cluster's events",
	}
	for name, synopsis := range groups {
		commands[name] = func() (cli.Command, error) { return &groupCommand{name: name, synopsis: synopsis}, nil }
	}
	return commands
}

// groupCommand is a command that only groups subcommands; hashicorp/cli
// lists them, with their synopses, after its help.
type groupCommand struct{ name, synopsis string }

func (g *groupCommand) Help() string {
	return fmt.Sprintf("Usage: mk %s <subcommand> [options] [args]\n\n  %s.", g.name, g.synopsis)
}
func (g *groupCommand) Synopsis() string { return g.synopsis }
func (g *groupCommand) Run([]string) int { return cli.RunResultHelp }

// VersionCommand prints mk's version.
type VersionCommand struct{ Meta }

func (c *VersionCommand) Help() string     { return "Usage: mk version\n\n  Prints the version of mk." }
func (c *VersionCommand) Synopsis() string { return "Print the version" }
func (c *VersionCommand) Run([]string) int {
	c.Ui.Output(version.String())
	return exitOK
}
