package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/mk-orchestrator/mk/jobspecs"
)

// JobValidateCommand checks a job file without a server.
type JobValidateCommand struct{ Meta }

func (c *JobValidateCommand) Synopsis() string { return "Check a job file, offline" }

func (c *JobValidateCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job validate [options] FILE

  Parses and validates a job file here, without asking a server: the HCL,
  the variables, the fields' values and the objects the job would become.
  Prints "Job validation successful", or each error with its
  file:line:col and exits 1.

Options:
  -var 'key=value'    Set a variable of the job file (may repeat).
  -var-file FILE      Read variables from an HCL file (may repeat).
`)
}

func (c *JobValidateCommand) Run(args []string) int {
	flags := c.FlagSet("job validate", false)
	var files jobFileFlags
	files.register(flags)
	if !c.parseFlags(flags, args) {
		return exitError
	}
	if flags.NArg() != 1 {
		return c.usageError("job validate takes exactly one argument, the job file", c.Help())
	}
	job, err := files.parse(flags.Arg(0), c.namespace)
	if err != nil {
		return c.fail(err)
	}
	if _, err := jobspecs.Translate(job); err != nil {
		return c.fail(fmt.Errorf("%s: %w", flags.Arg(0), err))
	}
	c.Ui.Output("Job validation successful")
	return exitOK
}

// JobInitCommand writes an example job file.
type JobInitCommand struct{ Meta }

// defaultInitFile is the file job init writes without an argument.
const defaultInitFile = "example.hcl"

func (c *JobInitCommand) Synopsis() string { return "Write an example job file" }

func (c *JobInitCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job init [FILE]

  Writes an example job (default example.hcl): a service of two pods that
  run /bin/sh with the exec driver, as any Linux machine can. It refuses
  to overwrite an existing file. Run it with "mk job run FILE".
`)
}

func (c *JobInitCommand) Run(args []string) int {
	flags := c.FlagSet("job init", false)
	if !c.parseFlags(flags, args) {
		return exitError
	}
	if flags.NArg() > 1 {
		return c.usageError("job init takes at most one argument, the file to write", c.Help())
	}
	path := defaultInitFile
	if flags.NArg() == 1 {
		path = flags.Arg(0)
	}
	if err := writeNewFile(path, []byte(exampleJob)); err != nil {
		return c.fail(err)
	}
	c.Ui.Output(fmt.Sprintf("Example job file written to %s", path))
	return exitOK
}

// writeNewFile writes data to path, failing when path exists.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; remove it or name another file", path)
	}
	if err != nil {
		return fmt.Errorf("write example job: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// exampleJob is what job init writes: a job that runs on any Linux
// machine (the exec driver and /bin/sh), with the common blocks shown.
const exampleJob = `# An example job, written by "mk job init". Run it with
#   mk job run example.hcl
# and see its pods with "mk job status example" and "mk pod logs ID".
job "example" {
  # service: keep the pods running; batch: run them to completion.
  type = "service"

  group "web" {
    # How many pods of this group to run.
    count = 2

    task "greeter" {
      # exec runs a command on the node, in its own cgroup.
      driver = "exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \"$GREETING from $MK_POD_NAME\"; sleep 10; done"]
      }

      env {
        GREETING = "hello"
      }

      # CPU in MHz, memory in MiB.
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`
