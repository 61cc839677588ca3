package httpapi

import "time"

// SetEventHeartbeat makes quiet event streams send heartbeats every d,
// so tests see them without waiting 10s.
func (h *HTTPServer) SetEventHeartbeat(d time.Duration) { h.eventHeartbeat = d }
