package command

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mk-orchestrator/mk/jobspecs"
	"github.com/mk-orchestrator/mk/structs"
)

// JobRunCommand registers a job from an HCL file.
type JobRunCommand struct{ Meta }

func (c *JobRunCommand) Synopsis() string { return "Run a new job or update an existing one" }

func (c *JobRunCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job run [options] FILE

  Parses the job file, registers it with the servers and reports the
  result. A job whose spec did not change is left as it is.

Options:
  -detach             Return as soon as the job is registered; without it,
                      job run follows the pods, printing their restarts and
                      failures as they happen, until every group is
                      healthy (each pod running, without a restart, for
                      the group's min_healthy_time; batch: succeeded) and
                      exits 0, or exits 2 when a pod fails for good, pods
                      cannot be placed, or the deadline passes. Ctrl-C
                      stops following (exit 130); the job keeps running.
  -timeout D          How long to follow the pods (default: the longest
                      healthy_deadline of the job's groups; batch jobs:
                      until they finish).
  -var 'key=value'    Set a variable of the job file (may repeat).
  -var-file FILE      Read variables from an HCL file (may repeat).
  -check-index N      Register only if the job's modify index is still N
                      (0: the job must not exist), as printed by job plan.
  -address ADDR       HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace NS       Namespace when the job file names none.
`)
}

// jobFileFlags are the flags every command reading a job file has.
type jobFileFlags struct {
	vars     stringSlice
	varFiles stringSlice
}

func (f *jobFileFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.vars, "var", "variable key=value")
	fs.Var(&f.varFiles, "var-file", "variables file")
}

// parse reads and validates a job file.
func (f *jobFileFlags) parse(path, namespace string) (*structs.Job, error) {
	vars := map[string]string{}
	for _, kv := range f.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-var %q: want key=value", kv)
		}
		vars[k] = v
	}
	job, err := jobspecs.ParseFile(path, jobspecs.ParseOptions{Vars: vars, VarFiles: f.varFiles})
	if err != nil {
		return nil, err
	}
	if namespace != "" && job.Namespace == structs.DefaultNamespace {
		job.Namespace = namespace
	}
	return job, nil
}

func (c *JobRunCommand) Run(args []string) int {
	fs := c.FlagSet("job run", false)
	var files jobFileFlags
	files.register(fs)
	detach := fs.Bool("detach", false, "")
	checkIndex := fs.Int64("check-index", -1, "")
	timeout := fs.Duration("timeout", 0, "")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("job run takes exactly one argument, the job file", c.Help())
	}
	job, err := files.parse(fs.Arg(0), c.namespace)
	if err != nil {
		return c.fail(err)
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	body := &structs.JobRegisterBody{Job: job}
	if *checkIndex >= 0 {
		body.EnforceIndex, body.JobModifyIndex = true, uint64(*checkIndex)
	}
	resp, err := client.RegisterJob(context.Background(), body)
	if err != nil {
		return c.fail(err)
	}
	switch {
	case resp.Unchanged:
		c.Ui.Output(fmt.Sprintf("==> Job %q unchanged (version %d)", job.ID, resp.Version))
	default:
		c.Ui.Output(fmt.Sprintf("==> Job %q registered (version %d, index %d)", job.ID, resp.Version, resp.JobModifyIndex))
	}
	if *detach {
		return exitOK
	}
	// Without -detach, follow the pods until they are healthy (or fail).
	deadline := *timeout
	if deadline == 0 {
		deadline = watchDeadline(job)
	}
	if job.Type == structs.JobTypeService && resp.Version > 0 {
		// An update: follow the rollout of each group.
		return c.followDeployments(client, job.ID, *timeout)
	}
	return c.monitorJob(client, job, resp.Version, resp.Index, deadline)
}

// stringSlice is a repeatable string flag.
type stringSlice []string

func (s *stringSlice) String() string     { return strings.Join(*s, ",") }
func (s *stringSlice) Set(v string) error { *s = append(*s, v); return nil }
