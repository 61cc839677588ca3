package server

import (
	"fmt"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// RecordEvents writes controllers' decisions through Raft: every server
// streams them, and `job status` shows a job's last ones after a failover.
// Events without a Time get the proposer's clock.
func (s *Server) RecordEvents(events ...*structs.JobEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	for _, e := range events {
		if e.Time == 0 {
			e.Time = now
		}
	}
	if _, _, err := s.raftApply(structs.EventsRecordRequestType, &structs.EventsRecordRequest{Events: events}); err != nil {
		return fmt.Errorf("record %d events: %w", len(events), err)
	}
	return nil
}
