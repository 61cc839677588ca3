package command

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// JobStatusCommand lists jobs or shows one job with its objects.
type JobStatusCommand struct{ Meta }

func (c *JobStatusCommand) Synopsis() string { return "List jobs or show the status of one" }

func (c *JobStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk job status [options] [NAME]

  Without NAME, lists the jobs of the namespace. With NAME, shows the job
  and the objects derived from it: deployments, replica sets, services,
  autoscalers and ingresses.

Options:
  -json        Print JSON.
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
  -namespace   Namespace (default MK_NAMESPACE or "default").
`)
}

func (c *JobStatusCommand) Run(args []string) int {
	fs := c.FlagSet("job status", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() > 1 {
		return c.usageError("job status takes at most one argument, the job name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	if fs.NArg() == 0 {
		return c.list(client)
	}
	return c.show(client, fs.Arg(0))
}

func (c *JobStatusCommand) list(client *api.Client) int {
	jobs, _, err := client.ListJobs(nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(jobs)
	}
	if len(jobs) == 0 {
		c.Ui.Output("No running jobs")
		return exitOK
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	rows := []string{row("ID", "Type", "Status", "Version", "Groups", "Submit Date")}
	for _, j := range jobs {
		rows = append(rows, row(j.ID, j.Type, j.Status, j.Version, j.Groups, formatTime(j.SubmitTime)))
	}
	c.Ui.Output(formatList(rows))
	return exitOK
}

func (c *JobStatusCommand) show(client *api.Client, id string) int {
	job, _, err := client.Job(id, nil)
	if err != nil {
		return c.fail(err)
	}
	objs, err := client.JobObjects(id, nil)
	if err != nil {
		return c.fail(err)
	}
	pods, _, err := client.Pods(id, nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"Job": job, "Objects": objs, "Pods": pods})
	}
	c.Ui.Output(formatKV([]string{
		row("ID", job.ID),
		row("Name", job.Name),
		row("Namespace", job.Namespace),
		row("Type", job.Type),
		row("Status", job.Status),
		row("Version", job.Version),
		row("Submit Date", formatTime(job.SubmitTime)),
	}))
	c.Ui.Output(formatObjects(job, objs))
	if job.Type == structs.JobTypeService && !job.Stop {
		deps, _, err := client.JobDeployments(id, nil)
		if err != nil {
			return c.fail(err)
		}
		if len(deps) > 0 {
			c.Ui.Output("\nLatest Deployments\n" + formatDeployments(deps))
		}
	}
	if len(pods) > 0 {
		c.Ui.Output("\nPods\n" + formatPods(pods, false))
	}
	if err := c.printRecentEvents(client, id); err != nil {
		return c.fail(err)
	}
	return exitOK
}

// formatObjects renders a job's groups and derived objects as tables.
func formatObjects(job *structs.Job, objs *structs.JobObjects) string {
	var b strings.Builder
	section := func(title string, rows []string) {
		if len(rows) > 1 {
			fmt.Fprintf(&b, "\n%s\n%s\n", title, formatList(rows))
		}
	}
	groups := []string{row("Name", "Count", "Tasks", "Drivers")}
	for _, g := range job.Groups {
		var tasks, drivers []string
		for _, t := range g.Tasks {
			tasks = append(tasks, t.Name)
			drivers = append(drivers, t.Driver)
		}
		groups = append(groups, row(g.Name, g.Count, strings.Join(tasks, ","), strings.Join(drivers, ",")))
	}
	section("Task Groups", groups)
	rss := []string{row("ID", "Group", "Desired", "Job Version")}
	for _, rs := range objs.ReplicaSets {
		rss = append(rss, row(rs.ID, rs.Group, rs.Replicas, rs.JobVersion))
	}
	section("Replica Sets", rss)
	svcs := []string{row("Name", "Type", "Cluster IP", "Ports")}
	for _, s := range objs.Services {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d->%d", p.Name, p.Port, p.TargetPort))
		}
		ip := s.ClusterIP
		if ip == "" {
			ip = "<pending>"
		}
		svcs = append(svcs, row(s.Name, s.Type, ip, strings.Join(ports, ",")))
	}
	section("Services", svcs)
	scalers := []string{row("ID", "Target", "Min", "Max", "CPU %", "Memory %")}
	for _, a := range objs.Autoscalers {
		scalers = append(scalers, row(a.ID, a.TargetDeployment, a.Min, a.Max, a.CPUPercent, a.MemoryPercent))
	}
	section("Autoscalers", scalers)
	ings := []string{row("ID", "Host", "Path", "Service", "Port")}
	for _, in := range objs.Ingresses {
		for _, r := range in.Rules {
			ings = append(ings, row(in.ID, in.Host, r.Path, r.Service, r.Port))
		}
	}
	section("Ingresses", ings)
	return strings.TrimRight(b.String(), "\n")
}
