package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// ScaleJob sets a service group's count by hand (`mk job scale`): a new
// count through Raft, not a new version. A group with a scaling block
// takes a count within [min, max] only; its autoscaler then takes the
// count as a scale of its own (autoscale.History.Observe): it scales in
// from it only after its scale-down window and out only after its
// scale-up cooldown, and only as the load asks.
func (s *Server) ScaleJob(namespace, jobID, group string, count int, message string) (*structs.JobScaleResponse, error) {
	req := &structs.JobScaleRequest{Namespace: structs.NamespaceOrDefault(namespace), JobID: jobID, Group: group, Count: count,
		Source: structs.ScaleSourceUser, Message: message, Time: time.Now().UnixNano()}
	raw, _, err := s.apiApply(structs.JobScaleRequestType, req, req.Namespace, jobID)
	if err != nil {
		return nil, fmt.Errorf("scale job %q: %w", jobID, err)
	}
	resp := raw.(*structs.JobScaleResponse)
	if resp.Previous != count {
		msg := fmt.Sprintf("scaled from %d to %d by hand", resp.Previous, count)
		if message != "" {
			msg += ": " + message
		}
		ev := &structs.JobEvent{Namespace: req.Namespace, JobID: jobID, Group: group, Topic: structs.TopicDeployment,
			Type: structs.EventScale, Message: msg, Time: req.Time, Details: map[string]string{
				"previous": strconv.Itoa(resp.Previous), "count": strconv.Itoa(count), "source": structs.ScaleSourceUser}}
		if err := s.RecordEvents(ev); err != nil {
			// The count is written; only its record is missing.
			s.logger.Warn("record a scale by hand", "job", jobID, "group", group, "error", err)
		}
	}
	return resp, nil
}
