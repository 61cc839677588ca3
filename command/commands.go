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
		HiddenCommands: []string{"plugin"},
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
	meta := func() Meta { return Meta{Ui: ui} }
	return map[string]cli.CommandFactory{
		"agent": func() (cli.Command, error) { return &AgentCommand{Meta: meta()}, nil },
		"job": func() (cli.Command, error) {
			return &groupCommand{name: "job", synopsis: "Run, plan, inspect and stop jobs"}, nil
		},
		"job run":     func() (cli.Command, error) { return &JobRunCommand{Meta: meta()}, nil },
		"job plan":    func() (cli.Command, error) { return &JobPlanCommand{Meta: meta()}, nil },
		"job status":  func() (cli.Command, error) { return &JobStatusCommand{Meta: meta()}, nil },
		"job stop":    func() (cli.Command, error) { return &JobStopCommand{Meta: meta()}, nil },
		"job history": func() (cli.Command, error) { return &JobHistoryCommand{Meta: meta()}, nil },
		"job inspect": func() (cli.Command, error) { return &JobInspectCommand{Meta: meta()}, nil },
		"node": func() (cli.Command, error) {
			return &groupCommand{name: "node", synopsis: "Inspect and manage client nodes"}, nil
		},
		"node status":      func() (cli.Command, error) { return &NodeStatusCommand{Meta: meta()}, nil },
		"node drain":       func() (cli.Command, error) { return &NodeDrainCommand{Meta: meta()}, nil },
		"node eligibility": func() (cli.Command, error) { return &NodeEligibilityCommand{Meta: meta()}, nil },
		"pod": func() (cli.Command, error) {
			return &groupCommand{name: "pod", synopsis: "Inspect, exec in and stop pods"}, nil
		},
		"pod list":   func() (cli.Command, error) { return &PodListCommand{Meta: meta()}, nil },
		"pod status": func() (cli.Command, error) { return &PodStatusCommand{Meta: meta()}, nil },
		"pod stop":   func() (cli.Command, error) { return &PodStopCommand{Meta: meta()}, nil },
		"pod logs":   func() (cli.Command, error) { return &PodLogsCommand{Meta: meta()}, nil },
		"pod exec":   func() (cli.Command, error) { return &PodExecCommand{Meta: meta()}, nil },
		"server": func() (cli.Command, error) {
			return &groupCommand{name: "server", synopsis: "Inspect the servers"}, nil
		},
		"server members": func() (cli.Command, error) { return &ServerMembersCommand{Meta: meta()}, nil },
		"operator": func() (cli.Command, error) {
			return &groupCommand{name: "operator", synopsis: "Cluster operations"}, nil
		},
		"operator raft": func() (cli.Command, error) {
			return &groupCommand{name: "operator raft", synopsis: "Inspect and change Raft membership"}, nil
		},
		"operator raft list-peers":  func() (cli.Command, error) { return &RaftListPeersCommand{Meta: meta()}, nil },
		"operator raft remove-peer": func() (cli.Command, error) { return &RaftRemovePeerCommand{Meta: meta()}, nil },
		"operator snapshot": func() (cli.Command, error) {
			return &groupCommand{name: "operator snapshot", synopsis: "Save and restore the cluster state"}, nil
		},
		"operator snapshot save":    func() (cli.Command, error) { return &SnapshotSaveCommand{Meta: meta()}, nil },
		"operator snapshot restore": func() (cli.Command, error) { return &SnapshotRestoreCommand{Meta: meta()}, nil },
		"version":                   func() (cli.Command, error) { return &VersionCommand{Meta: meta()}, nil },
		"plugin":                    func() (cli.Command, error) { return &PluginCommand{Meta: meta()}, nil },
	}
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
