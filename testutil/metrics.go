package testutil

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metric reads one sample of an agent's /v1/metrics (Prometheus text) by
// its name with labels as written there, say "mk_raft_entry_commands_sum";
// false when the agent does not export it.
func Metric(t testing.TB, addr, sample string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(addr + "/v1/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metrics: %q: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}
