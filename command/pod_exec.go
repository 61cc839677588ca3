package command

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/mk-orchestrator/mk/api"
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
  servers forward the request there. mk exits with the command's exit
  code (1 when mk itself fails; 127 when the command is not found).

  Without -i and -t the command gets no input; when it ends its stdout
  and stderr are printed to mk's. With -i or -t its output is printed as
  it comes and it runs until it exits, without a timeout; Ctrl-C (when
  not sent to the command's terminal) or mk going away kills it.

Options:
  -i              Pass mk's standard input to the command; its end ends
                  the command's input.
  -t              Run the command on a new terminal (its stderr joins its
                  stdout), sized as mk's. With -i and a terminal as input,
                  mk's terminal is put in raw mode while the command runs:
                  keys such as Ctrl-C and Ctrl-D go to the command.
  -task NAME      The task (needed when the pod has several).
  -timeout D      Kill the command after D (default 30s, at most 5m);
                  not with -i or -t.
`)
}

func (c *PodExecCommand) Run(args []string) int {
	fs := c.FlagSet("pod exec", false)
	task := fs.String("task", "", "")
	timeout := fs.Duration("timeout", 0, "")
	stdin := fs.Bool("i", false, "")
	tty := fs.Bool("t", false, "")
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
	streaming := *stdin || *tty
	if streaming && *timeout > 0 {
		return c.usageError("-timeout is for an exec without -i and -t, which runs until it exits", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if streaming {
		return c.runStreaming(client, rest[0], &api.ExecStreamOptions{Task: *task, Command: rest[1:], TTY: *tty}, *stdin)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	body := &structs.PodExecBody{Task: *task, Command: rest[1:]}
	if *timeout > 0 {
		body.Timeout = timeout.String()
	}
	res, err := client.PodExec(ctx, rest[0], body)
	if err != nil {
		return c.fail(err)
	}
	_, _ = io.WriteString(os.Stdout, res.Stdout)
	_, _ = io.WriteString(os.Stderr, res.Stderr)
	return res.ExitCode
}
