package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// localLogs serves GET
// /v1/pod/{id}/logs?task=T&type=stdout|stderr&follow=true&tail=N for a pod
// of this agent's client: the log as text (with tail, its last N lines),
// streamed.
func (h *HTTPServer) localLogs(w http.ResponseWriter, r *http.Request, podID string) (any, error) {
	q := r.URL.Query()
	stream := q.Get("type")
	if stream == "" {
		stream = "stdout"
	}
	follow, _ := strconv.ParseBool(q.Get("follow"))
	tail := 0
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, &structs.ValidationError{Field: "tail", Msg: fmt.Sprintf("must be a number of lines >= 0, got %q", v)}
		}
		tail = n
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.localPods().StreamLogs(r.Context(), podID, q.Get("task"), stream, follow, tail, w); err != nil {
		return nil, err
	}
	return nil, errHandled
}

// localExec serves POST /v1/pod/{id}/exec (structs.PodExecBody) for a pod
// of this agent's client: it runs the command and answers its output and
// exit code (structs.PodExecResult). A non-zero exit is a result, not an
// error.
func (h *HTTPServer) localExec(w http.ResponseWriter, r *http.Request, podID string) (any, error) {
	var body structs.PodExecBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if len(body.Command) == 0 || body.Command[0] == "" {
		return nil, &structs.ValidationError{Field: "Command", Msg: "is required: the program and its arguments"}
	}
	timeout, err := execTimeout(body.Timeout)
	if err != nil {
		return nil, err
	}
	res, err := h.localPods().ExecTask(r.Context(), podID, body.Task, body.Command, timeout)
	if err != nil {
		return nil, err
	}
	return &structs.PodExecResult{ExitCode: res.ExitCode, Stdout: string(res.Stdout), Stderr: string(res.Stderr)}, nil
}

// execTimeout parses an exec's timeout: the default when empty, at most
// structs.MaxExecTimeout.
func execTimeout(s string) (time.Duration, error) {
	if s == "" {
		s = structs.DefaultExecTimeout
	}
	limit, _ := time.ParseDuration(structs.MaxExecTimeout)
	d, err := structs.ParseDuration(s)
	switch {
	case err != nil:
		return 0, &structs.ValidationError{Field: "Timeout", Msg: err.Error()}
	case d == 0 || d > limit:
		return 0, &structs.ValidationError{Field: "Timeout", Msg: fmt.Sprintf("must be more than 0 and at most %s, got %q", structs.MaxExecTimeout, s)}
	}
	return d, nil
}

// localStats serves GET /v1/pod/{id}/stats for a pod of this agent's
// client: one sample per task (structs.PodStats).
func (h *HTTPServer) localStats(w http.ResponseWriter, r *http.Request, podID string) (any, error) {
	return h.localPods().PodStats(r.Context(), podID)
}
