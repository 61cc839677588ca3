package command

import (
	"strings"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
)

// printRecentEvents prints the "Recent Events" section of `job status`:
// the job's last decisions of the deployment controller and the
// autoscaler (nothing when there are none).
func (c *JobStatusCommand) printRecentEvents(client *api.Client, id string) error {
	events, _, err := client.JobEvents(id, nil)
	if err != nil || len(events) == 0 {
		return err
	}
	c.Ui.Output("\nRecent Events\n" + formatJobEvents(events))
	return nil
}

// formatJobEvents is a table of decisions, newest first.
func formatJobEvents(events []*structs.JobEvent) string {
	rows := []string{row("Time", "Index", "Topic", "Group", "Type", "Message")}
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		group := e.Group
		if group == "" {
			group = "-"
		}
		rows = append(rows, row(formatTime(e.Time), e.Index, e.Topic, group, e.Type, strings.ReplaceAll(e.Message, "|", "/")))
	}
	return formatList(rows)
}
