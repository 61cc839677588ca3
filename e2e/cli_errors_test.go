package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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

// TestCLIOffline: what works with no agent anywhere: help (a group's
// lists its subcommands), job init (an example that job validate accepts;
// a second init refuses to overwrite) and job validate.
func TestCLIOffline(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/example.hcl"
	bad := dir + "/bad.hcl"
	src := "job \"web\" {\n  group \"g\" {\n    count = -1\n    task \"t\" {\n      driver = \"exec\"\n      resources {\n        memory = 0\n      }\n    }\n  }\n}\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"-h"}, 0},
		{"help_job", []string{"job", "-h"}, 0},
		{"help_operator_raft", []string{"operator", "raft", "-h"}, 0},
		{"job_init", []string{"job", "init", file}, 0},
		{"job_init_exists", []string{"job", "init", file}, 1},
		{"job_validate", []string{"job", "validate", file}, 0},
		{"job_validate_error", []string{"job", "validate", bad}, 1},
	}
	for _, st := range steps {
		stdout, stderr, code := runMk(t, "http://127.0.0.1:1", st.args...)
		got := fmt.Sprintf("$ mk %s\n%s%s[exit %d]\n", strings.Join(st.args, " "), stdout, stderr, code)
		checkGolden(t, st.name, strings.ReplaceAll(got, dir, "<DIR>"))
		if code != st.code {
			t.Errorf("%s: exit %d, want %d", st.name, code, st.code)
		}
	}
}
