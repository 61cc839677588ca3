package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCLIAgentErrors: an address where no agent listens, or where
// something other than mk answers, is one clear line and exit 1.
func TestCLIAgentErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	notMk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	defer notMk.Close()

	tests := []struct {
		name string
		addr string
		args []string
	}{
		{"no_agent", closed, []string{"job", "status"}},
		{"no_agent_pod_logs", closed, []string{"pod", "logs", "abc"}},
		{"not_mk", notMk.URL, []string{"job", "status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runMk(t, tc.addr, tc.args...)
			got := fmt.Sprintf("$ mk %s -address ADDR\n%s%s[exit %d]\n", strings.Join(tc.args, " "), stdout, stderr, code)
			checkGolden(t, tc.name, got)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
		})
	}
}
