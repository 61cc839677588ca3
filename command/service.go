package command

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// ServiceListCommand lists services with their virtual IPs and endpoints.
type ServiceListCommand struct{ Meta }

func (c *ServiceListCommand) Synopsis() string { return "List services" }

func (c *ServiceListCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk service list [options]

  Lists the services of the namespace (-namespace '*' for every one):
  type, ClusterIP, ports (port->pod port), NodePort and how many of its
  endpoints are ready.

Options:
  -json        Print JSON.
  -namespace   The namespace (default MK_NAMESPACE or "default").
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *ServiceListCommand) Run(args []string) int {
	fs := c.FlagSet("service list", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() > 0 {
		return c.usageError("service list takes no arguments", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	svcs, _, err := client.Services("", nil)
	if err != nil {
		return c.fail(err)
	}
	eps, _, err := client.Endpoints("", nil)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"Services": svcs, "Endpoints": eps})
	}
	if len(svcs) == 0 {
		c.Ui.Output("No services")
		return exitOK
	}
	byKey := map[string]*structs.Endpoints{}
	for _, e := range eps {
		byKey[e.Namespace+"/"+e.ID] = e
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name })
	rows := []string{row("Name", "Namespace", "Type", "Cluster IP", "Ports", "Node Ports", "Endpoints")}
	for _, s := range svcs {
		rows = append(rows, row(s.Name, s.Namespace, s.Type, firstNonEmpty(s.ClusterIP, "<pending>"), servicePorts(s),
			nodePorts(s), readyOf(byKey[s.Namespace+"/"+s.ID])))
	}
	c.Ui.Output(formatList(rows))
	return exitOK
}

// ServiceStatusCommand shows one service with its endpoints.
type ServiceStatusCommand struct{ Meta }

func (c *ServiceStatusCommand) Synopsis() string { return "Show a service and its endpoints" }

func (c *ServiceStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk service status [options] NAME

  Shows a service: its type, ClusterIP, ports, NodePort and DNS name,
  and every endpoint with its pod, node, address and readiness (a pod
  that is not ready says why: a failing check, not running yet, ...).

Options:
  -json        Print JSON.
  -namespace   The namespace (default MK_NAMESPACE or "default").
  -address     HTTP API address (default MK_ADDR or http://127.0.0.1:6646).
`)
}

func (c *ServiceStatusCommand) Run(args []string) int {
	fs := c.FlagSet("service status", true)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		return c.usageError("service status takes one argument, the service name", c.Help())
	}
	client, err := c.Client()
	if err != nil {
		return c.fail(err)
	}
	svc, err := client.Service("", fs.Arg(0), nil)
	if err != nil {
		return c.fail(err)
	}
	eps, err := client.EndpointsOf(svc.Namespace, svc.ID, nil)
	if err != nil && !api.IsNotFound(err) {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]any{"Service": svc, "Endpoints": eps})
	}
	c.Ui.Output(formatService(svc, eps))
	return exitOK
}

func formatService(s *structs.Service, eps *structs.Endpoints) string {
	var b strings.Builder
	b.WriteString(formatKV([]string{
		row("Name", s.Name), row("Namespace", s.Namespace), row("Job", s.JobID), row("Type", s.Type),
		row("Cluster IP", firstNonEmpty(s.ClusterIP, "<pending>")), row("Ports", servicePorts(s)),
		row("Node Ports", nodePorts(s)), row("DNS", fmt.Sprintf("%s.%s.svc.%s", s.Name, s.Namespace, structs.ClusterDomain)),
		row("Endpoints", readyOf(eps)),
	}))
	if eps == nil || len(eps.Endpoints) == 0 {
		return b.String()
	}
	rows := []string{row("Pod", "Node", "Address", "Ready", "Reason")}
	for _, ep := range eps.Endpoints {
		rows = append(rows, row(ep.PodName, firstNonEmpty(ep.NodeName, ep.NodeID), endpointAddrs(s, ep), ep.Ready, firstNonEmpty(ep.Reason, "-")))
	}
	b.WriteString("\n\nEndpoints\n" + formatList(rows))
	return b.String()
}

func servicePorts(s *structs.Service) string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", p.Name, p.Port, p.TargetPort, firstNonEmpty(p.Protocol, "tcp")))
	}
	return firstNonEmpty(strings.Join(out, ","), "-")
}

func nodePorts(s *structs.Service) string {
	var out []string
	for _, p := range s.Ports {
		if p.NodePort != 0 {
			out = append(out, fmt.Sprint(p.NodePort))
		}
	}
	return firstNonEmpty(strings.Join(out, ","), "-")
}

// readyOf is "ready/total" of a service's endpoints.
func readyOf(eps *structs.Endpoints) string {
	if eps == nil {
		return "0/0"
	}
	return fmt.Sprintf("%d/%d", eps.ReadyCount(), len(eps.Endpoints))
}

func endpointAddrs(s *structs.Service, ep *structs.Endpoint) string {
	var out []string
	for _, p := range s.Ports {
		if port, ok := ep.Ports[p.Name]; ok {
			out = append(out, fmt.Sprintf("%s:%d", ep.IP, port))
		}
	}
	return firstNonEmpty(strings.Join(out, ","), "-")
}
