package command

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/mk-orchestrator/mk/structs"
)

// PodExecCommand runs a command in a pod's task.
type PodExecCommand struct{ Meta }

func (c *PodExecCommand) Synopsis() string { return "Run a command in a pod's task" }

func (c *PodExecCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk pod exec [options] ID -- COMMAND [ARGS...]

  Runs a command in the environment of a running task of a pod (ID or
  unique prefix): the task's variables (MK_POD_NAME, ...), working
  directory and limits. The node that runs the pod runs the command;
  servers forward the request there. The command gets no input; when it
  ends its stdout and stderr are printed to mk's, and mk exits with its
  exit code (1 when mk itself fails; 127 when the command is not found).

Options:
  -task NAME      The task (needed when the pod has several).
  -timeout D      Kill the command after D (default 30s, at most 5m).
`)
}

func (c *PodExecCommand) Run(args []string) int {
	fs := c.FlagSet("pod exec", false)
	task := fs.String("task", "", "")
	timeout := fs.Duration("timeout", 0, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	rest := fs.Args()
	if len(rest) > 1 && rest[1] == "--" {
		rest = append(rest[:1:1], rest[2:]...)
	}
	if len(rest) < 2 {
		return c.usageError("pod exec takes the pod ID and the command to run", c.Help())
	}
	body := &structs.PodExecBody{Task: *task, Command: rest[1:]}
	if *timeout > 0 {
		body.Timeout = timeout.String()
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := client.PodExec(ctx, rest[0], body)
	if err != nil {
		return c.fail(err)
	}
	_, _ = io.WriteString(os.Stdout, res.Stdout)
	_, _ = io.WriteString(os.Stderr, res.Stderr)
	return res.ExitCode
}
