package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mk-orchestrator/mk/api"
)

// EventStreamCommand follows the cluster's event stream.
type EventStreamCommand struct{ Meta }

func (c *EventStreamCommand) Synopsis() string { return "Follow the changes the servers apply" }

func (c *EventStreamCommand) Help() string {
	return strings.TrimSpace(`
Usage: mk event stream [options]

  Prints the changes the servers apply to jobs, pods, deployments and
  nodes, and the decisions of the deployment controller and the
  autoscaler, as they happen: one line per event with its Raft index,
  topic, type, key and a summary. It follows until interrupted; when the
  connection breaks it connects again (to the next address of a
  comma-separated -address list) and goes on after the last index printed.

Options:
  -topic T     Only events of topic T: Job, Pod, Deployment, Node,
               Autoscaler or *; T:KEY for one object. Repeatable.
  -key K       Only events of the object K (an ID; a job's or node's ID
               also selects its pods). Repeatable.
  -index N     Start after Raft index N (0: from the oldest event the
               server holds, which fails if it no longer holds them all).
               Default: only the events to come.
  -json        Print each index's events as the server sends them, a
               JSON object per line.
  -address     HTTP API address, or several, comma-separated (default
               MK_ADDR or http://127.0.0.1:6646).
  -namespace   Only events of this namespace (default MK_NAMESPACE or every
               namespace).
`)
}

func (c *EventStreamCommand) Run(args []string) int {
	var topics, keys stringSlice
	fs := c.FlagSet("event stream", true)
	fs.Var(&topics, "topic", "topic, or topic:key")
	fs.Var(&keys, "key", "object ID")
	index := fs.Int64("index", -1, "start after this index")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 0 {
		return c.usageError("event stream takes no arguments", c.Help())
	}
	clients, err := c.clients()
	if err != nil {
		return c.fail(err)
	}
	opts := api.EventStreamOptions{Topics: topics, Keys: keys, Latest: *index < 0}
	if *index >= 0 {
		opts.Index = uint64(*index)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.follow(ctx, clients, opts)
}

// follow prints events until ctx ends (exit 0) or the stream fails for
// good (a 410, no agent at any address).
func (c *EventStreamCommand) follow(ctx context.Context, clients []*api.Client, opts api.EventStreamOptions) int {
	err := api.FollowEvents(ctx, clients, opts, c.print, func(addr string, err error) {
		c.Ui.Warn(fmt.Sprintf("Connection to %s lost (%v); reconnecting", addr, err))
	})
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// clients are one API client per address of -address (or MK_ADDR).
func (c *EventStreamCommand) clients() ([]*api.Client, error) {
	addrs := c.address
	if addrs == "" {
		addrs = os.Getenv("MK_ADDR")
	}
	var out []*api.Client
	for _, a := range strings.Split(addrs, ",") {
		cl, err := api.NewClient(api.Config{Address: strings.TrimSpace(a), Namespace: c.namespace})
		if err != nil {
			return nil, err
		}
		out = append(out, cl)
	}
	return out, nil
}

func (c *EventStreamCommand) print(b *api.EventBatch) error {
	if c.json {
		c.Ui.Output(string(b.Raw))
		return nil
	}
	for _, e := range b.Events {
		c.Ui.Output(formatEvent(e))
	}
	return nil
}

// formatEvent is an event's line: index, topic, type, key and summary.
func formatEvent(e *api.Event) string {
	key := e.Key
	if e.Namespace != "" && e.Namespace != "default" {
		key = e.Namespace + "/" + key
	}
	return strings.TrimRight(fmt.Sprintf("%-8d %-10s %-20s %-36s %s", e.Index, e.Topic, e.Type, key, eventSummary(e)), " ")
}

// eventPayload holds the payload fields that summaries show, of any
// topic: decoding only these skips the rest (a pod's template).
type eventPayload struct {
	Name, Status, Phase, DesiredStatus, NodeName, Eligibility, Message, Group string
	Version, JobVersion                                                       uint64
	Stop, Drain                                                               bool
	Replicas                                                                  int
	Details                                                                   map[string]string
}

// eventSummary says in a few words what the event's object is now.
func eventSummary(e *api.Event) string {
	var p eventPayload
	if json.Unmarshal(e.Payload, &p) != nil {
		return ""
	}
	switch {
	case p.Message != "": // a controller's decision
		return strings.TrimSpace(p.Group + " " + p.Message)
	case e.Topic == "Job":
		return fmt.Sprintf("version %d, %s", p.Version, p.Status)
	case e.Topic == "Pod":
		s := fmt.Sprintf("%s: %s, desired %s", p.Name, p.Phase, p.DesiredStatus)
		if p.NodeName != "" {
			s += ", on " + p.NodeName
		}
		return s
	case e.Topic == "Node":
		s := fmt.Sprintf("%s: %s, %s", p.Name, p.Status, p.Eligibility)
		if p.Drain {
			s += ", draining"
		}
		return s
	case e.Topic == "Deployment":
		return fmt.Sprintf("version %d, %d replicas, %s", p.JobVersion, p.Replicas, p.Status)
	}
	return ""
}
