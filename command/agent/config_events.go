package agent

import (
	"fmt"

	"github.com/mk-orchestrator/mk/server"
)

// applyEvents checks the event stream's keys and sets them on sc.
func (s *ServerConfig) applyEvents(sc *server.Config) error {
	if s.EventBufferSize != nil {
		if *s.EventBufferSize <= 0 {
			return fmt.Errorf("server.event_buffer_size: must be > 0, got %d", *s.EventBufferSize)
		}
		sc.EventBufferSize = *s.EventBufferSize
	}
	return nil
}
