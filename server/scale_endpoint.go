package server

import (
	"fmt"
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
	resp, _, err := s.apiApply(structs.JobScaleRequestType, req, req.Namespace, jobID)
	if err != nil {
		return nil, fmt.Errorf("scale job %q: %w", jobID, err)
	}
	return resp.(*structs.JobScaleResponse), nil
}
