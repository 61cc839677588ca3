package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mk-orchestrator/mk/api"
	"github.com/mk-orchestrator/mk/structs"
	"github.com/mk-orchestrator/mk/testutil"
	"github.com/mk-orchestrator/mk/testutil/syncbuf"
)

// TestPodExecStreamReachesThePodsNode: a streaming exec of a pod on the
// server's own client and of one on a client-only agent, asked of either
// agent: the WebSocket reaches the pod's node (proxied when another agent
// was asked), input goes in, output comes out as it is written, before
// the command ends, and so does the exit code.
func TestPodExecStreamReachesThePodsNode(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("stream", 2))
	for _, p := range pods {
		for via, cl := range map[string]*api.Client{"server": a.srv, "edge": a.edge} {
			t.Run(p.NodeName+" via "+via, func(t *testing.T) {
				var stdout, stderr strings.Builder
				code, err := cl.PodExecStream(context.Background(), p.ID[:8], &api.ExecStreamOptions{Task: "side",
					Command: []string{"/bin/sh", "-c", `read line; echo "got $line in $MK_TASK_NAME"; echo oops >&2; exit 4`},
					Stdin:   strings.NewReader("hi\n"), Stdout: &stdout, Stderr: &stderr})
				if err != nil {
					t.Fatal(err)
				}
				if code != 4 || stdout.String() != "got hi in side\n" || stderr.String() != "oops\n" {
					t.Fatalf("exit %d, stdout %q, stderr %q; want 4, \"got hi in side\\n\", \"oops\\n\"", code, stdout.String(), stderr.String())
				}
				checkStreamsAsItComes(t, cl, p)
			})
		}
	}
	// All but the edge pod's execs asked of the edge went through the
	// server's handler, answered there or proxied: each counted as a
	// switch of protocols.
	// The handler counts a request when it returns, which for a
	// WebSocket is a moment after the caller saw the exit.
	sample := `mk_http_requests_total{code="101",route="GET /v1/pod/{id}/exec"}`
	testutil.WaitFor(t, 5*time.Second, func() (bool, error) {
		n, _ := testutil.Metric(t, a.server.Addr(), sample)
		return n == 6, fmt.Errorf("%s = %v, want 6 (two execs in each of 3 pod and agent pairs)", sample, n)
	})
}

// checkStreamsAsItComes runs a command that prints, then waits for input:
// what it printed arrives while it waits.
func checkStreamsAsItComes(t *testing.T, cl *api.Client, p *structs.Pod) {
	t.Helper()
	in, feed := io.Pipe()
	defer feed.Close()
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		code, err := cl.PodExecStream(context.Background(), p.ID, &api.ExecStreamOptions{Task: "main",
			Command: []string{"/bin/sh", "-c", `echo first; read line; echo "then $line"`}, Stdin: in, Stdout: &out})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d", code)
		}
		done <- err
	}()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return out.String() == "first\n", fmt.Errorf("output %q while the command waits, want \"first\\n\"", out.String())
	})
	if _, err := io.WriteString(feed, "more\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.String() != "first\nthen more\n" {
		t.Fatalf("output %q, want \"first\\nthen more\\n\"", out.String())
	}
}

// TestPodExecStreamTerminal: with a terminal, forwarded to the client-only
// agent, the command's terminal takes the caller's size and control
// characters reach it (Ctrl-D ends its input).
func TestPodExecStreamTerminal(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("tty", 2))
	p := pods[0]
	if p.NodeName != "edge-1" {
		p = pods[1]
	}
	in, feed := io.Pipe()
	defer feed.Close()
	sizes := make(chan structs.TerminalSize, 1)
	sizes <- structs.TerminalSize{Rows: 33, Cols: 77}
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		code, err := a.srv.PodExecStream(context.Background(), p.ID, &api.ExecStreamOptions{Task: "main", TTY: true,
			Command: []string{"/bin/sh", "-c", `tty; while read line; do stty size; done; echo bye >&2`},
			Stdin:   in, Stdout: &out, Resize: sizes})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit %d", code)
		}
		done <- err
	}()
	// The size is applied beside the input, not before it: ask until
	// the answer has it.
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		if _, err := io.WriteString(feed, "\n"); err != nil {
			return false, err
		}
		return strings.Contains(out.String(), "33 77"), fmt.Errorf("output %q, want the size 33 77", out.String())
	})
	if _, err := io.WriteString(feed, "\x04"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The terminal echoes the input too.
	if got := out.String(); !strings.Contains(got, "/dev/pts/") || !strings.HasSuffix(got, "bye\r\n") {
		t.Fatalf("output %q, want a /dev/pts terminal and stderr's bye on it last", got)
	}
}

// TestPodExecStreamErrors: what fails before the upgrade is a JSON error
// with its status, from the pod's node or through a forward; a caller
// that goes away through a forward takes its command with it.
func TestPodExecStreamErrors(t *testing.T) {
	a := startPodAgents(t)
	pods := runningPods(t, a.srv, twoTaskJob("errs", 2))
	tests := []struct {
		name string
		ref  string // "" for the pod under test
		opts api.ExecStreamOptions
		code int
	}{
		{"unknown pod", "ffffffff", api.ExecStreamOptions{Task: "main", Command: []string{"true"}}, 404},
		{"unknown task", "", api.ExecStreamOptions{Task: "nope", Command: []string{"true"}}, 404},
		{"no task named in a pod of two", "", api.ExecStreamOptions{Command: []string{"true"}}, 400},
		{"no command", "", api.ExecStreamOptions{Task: "main"}, 400},
	}
	for _, p := range pods {
		for via, cl := range map[string]*api.Client{"server": a.srv, "edge": a.edge} {
			for _, tc := range tests {
				ref := tc.ref
				if ref == "" {
					ref = p.ID[:8]
				}
				_, err := cl.PodExecStream(context.Background(), ref, &tc.opts)
				if got := statusOf(err); got != tc.code {
					t.Errorf("%s on %s via %s: status %d (%v), want %d", tc.name, p.NodeName, via, got, err, tc.code)
				}
			}
		}
	}

	edgePod := pods[0]
	if edgePod.NodeName != "edge-1" {
		edgePod = pods[1]
	}
	checkNotAWebSocket(t, a.server.Addr(), edgePod)
	checkCallerGoneKills(t, a.srv, edgePod)
}

// checkNotAWebSocket: a GET of the exec route that is no WebSocket, or
// whose query is bad, is a 400 with mk's JSON error body.
func checkNotAWebSocket(t *testing.T, base string, p *structs.Pod) {
	t.Helper()
	for _, tc := range []struct {
		query          url.Values
		upgrade, field string
	}{
		{url.Values{"command": {`["true"]`}, "task": {"main"}}, "", ""},
		{url.Values{"command": {`["true"]`}, "task": {"main"}, "tty": {"maybe"}}, "websocket", "tty"},
		{url.Values{"command": {"true"}, "task": {"main"}}, "websocket", "command"},
	} {
		req, err := http.NewRequest("GET", base+"/v1/pod/"+p.ID+"/exec?"+tc.query.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.upgrade != "" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", tc.upgrade)
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error, Field string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || err != nil || body.Error == "" || body.Field != tc.field {
			t.Errorf("GET ?%s (upgrade %q): %s, %+v (%v); want 400 and a JSON error on field %q", tc.query, tc.upgrade, resp.Status, body, err, tc.field)
		}
	}
}

// checkCallerGoneKills: a streaming exec whose caller goes away, through
// the server's proxy to the pod's node, ends its command at once.
func checkCallerGoneKills(t *testing.T, cl *api.Client, p *structs.Pod) {
	t.Helper()
	const marker = "sleep 62.25"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := cl.PodExecStream(ctx, p.ID, &api.ExecStreamOptions{Task: "main", Command: strings.Fields(marker)})
		done <- err
	}()
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		return len(testutil.PIDsEndingWith(marker)) == 1, fmt.Errorf("exec'd %q is not running", marker)
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("exec whose caller went away: %v, want context.Canceled", err)
	}
	testutil.WaitFor(t, 10*time.Second, func() (bool, error) {
		pids := testutil.PIDsEndingWith(marker)
		return len(pids) == 0, fmt.Errorf("exec'd %q still runs (pids %v) after its caller went away", marker, pids)
	})
}
