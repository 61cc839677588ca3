package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/mk-orchestrator/mk/drivers"
	"github.com/mk-orchestrator/mk/structs"
)

// execStreamRequest is what the query of a streaming exec asks for.
type execStreamRequest struct {
	task       string
	command    []string
	tty, stdin bool
}

// localExecStream serves GET /v1/pod/{id}/exec, a streaming exec over a
// WebSocket (the protocol is in structs/exec_stream.go), for a pod of
// this agent's client. What can be checked before the upgrade (the
// query, the task running, the driver able to stream) fails as a JSON
// error; after it, the command runs until it exits or the caller closes
// the WebSocket, which kills it.
func (h *HTTPServer) localExecStream(w http.ResponseWriter, r *http.Request, podID string) (any, error) {
	if !isWebSocketUpgrade(r) {
		return nil, structs.NewBadRequest("GET /v1/pod/{id}/exec is a WebSocket (a streaming exec); POST runs a command without one")
	}
	req, err := parseExecStream(r.URL.Query())
	if err != nil {
		return nil, err
	}
	lp := h.localPods()
	if err := lp.CheckExecStreaming(podID, req.task); err != nil {
		return nil, err
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		// Accept has answered (a forbidden origin, a failed hijack).
		h.logger.Debug("streaming exec: upgrade failed", "pod", podID, "error", err)
		return nil, errHandled
	}
	h.serveExecStream(conn, lp, podID, req)
	return nil, errHandled
}

// parseExecStream reads a streaming exec's query (structs.ExecStreamQuery*).
func parseExecStream(q url.Values) (*execStreamRequest, error) {
	req := &execStreamRequest{task: q.Get(structs.ExecStreamQueryTask)}
	field := structs.ExecStreamQueryCommand
	raw := q.Get(field)
	if raw == "" {
		return nil, &structs.ValidationError{Field: field, Msg: `is required: the program and its arguments as a JSON array, as ["sh", "-c", "ls"]`}
	}
	if err := json.Unmarshal([]byte(raw), &req.command); err != nil {
		return nil, &structs.ValidationError{Field: field, Msg: fmt.Sprintf("must be a JSON array of strings: %v", err)}
	}
	if len(req.command) == 0 || req.command[0] == "" {
		return nil, &structs.ValidationError{Field: field, Msg: "must name a program: the array is empty or starts with an empty string"}
	}
	var err error
	if req.tty, err = queryBool(q, structs.ExecStreamQueryTTY); err != nil {
		return nil, err
	}
	if req.stdin, err = queryBool(q, structs.ExecStreamQueryStdin); err != nil {
		return nil, err
	}
	return req, nil
}

// queryBool parses an optional true/false query parameter.
func queryBool(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, &structs.ValidationError{Field: name, Msg: fmt.Sprintf("must be true or false, got %q", s)}
	}
	return b, nil
}

// isWebSocketUpgrade reports whether r asks to switch to a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// serveExecStream runs the exec over conn: the caller's messages feed
// its input and terminal size, its output goes out as it comes, and the
// last message says how it ended. The caller closing the connection (or
// no longer taking output) cancels the exec, which kills the command.
func (h *HTTPServer) serveExecStream(conn *websocket.Conn, lp LocalPods, podID string, req *execStreamRequest) {
	conn.SetReadLimit(structs.ExecStreamMaxMessage)
	// Not the request's context: the connection is hijacked.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &execSession{conn: conn, cancel: cancel}
	opts := &drivers.ExecStreamOptions{Command: req.command, TTY: req.tty,
		Stdout: &execOutput{s: s, ctx: ctx}, Stderr: &execOutput{s: s, ctx: ctx, stderr: true}}
	var stdin *io.PipeReader
	if req.stdin {
		stdin, s.stdin = io.Pipe()
		opts.Stdin = stdin
	}
	if req.tty {
		s.resize = make(chan drivers.TerminalSize, 1)
		opts.Resize = s.resize
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.readInput(ctx)
	}()

	code, err := lp.ExecTaskStreaming(ctx, podID, req.task, opts)
	if stdin != nil {
		// Unblocks input the command never read.
		stdin.CloseWithError(io.ErrClosedPipe)
	}
	h.logger.Debug("streaming exec ended", "pod", podID, "task", req.task, "exit_code", code, "error", err)
	if ctx.Err() == nil {
		last := &structs.ExecStreamOutput{Exited: true, ExitCode: code}
		if err != nil {
			last = &structs.ExecStreamOutput{Error: err.Error()}
		}
		if s.send(ctx, last) == nil {
			_ = conn.Close(websocket.StatusNormalClosure, "")
		}
	}
	cancel()
	_ = conn.CloseNow()
	<-readDone
}

// execSession is one streaming exec's WebSocket and the command's ends of
// it.
type execSession struct {
	conn *websocket.Conn
	// cancel ends the exec (the caller went away).
	cancel context.CancelFunc
	// stdin is the command's input (nil without stdin=true); resize holds
	// the terminal's latest size (nil without tty=true).
	stdin  *io.PipeWriter
	resize chan drivers.TerminalSize
}

// readInput reads the caller's messages until the connection ends, which
// cancels the exec. A message that is not ExecStreamInput closes the
// connection.
func (s *execSession) readInput(ctx context.Context) {
	defer s.cancel()
	for {
		var in structs.ExecStreamInput
		if err := wsjson.Read(ctx, s.conn, &in); err != nil {
			return
		}
		switch {
		case s.stdin != nil && len(in.Stdin) > 0:
			// Blocks while the command does not read; fails once it
			// has exited.
			_, _ = s.stdin.Write(in.Stdin)
		case s.stdin != nil && in.StdinClose:
			_ = s.stdin.Close()
		case s.resize != nil && in.Resize != nil:
			s.offerSize(drivers.TerminalSize(*in.Resize))
		}
	}
}

// offerSize queues sz for the terminal, replacing a size not applied
// yet: the latest one wins and the reader never blocks on it.
func (s *execSession) offerSize(sz drivers.TerminalSize) {
	select {
	case <-s.resize:
	default:
	}
	s.resize <- sz // room: readInput is the only sender
}

// send writes one message to the caller.
func (s *execSession) send(ctx context.Context, out *structs.ExecStreamOutput) error {
	if err := wsjson.Write(ctx, s.conn, out); err != nil {
		return fmt.Errorf("streaming exec: send to the caller: %w", err)
	}
	return nil
}

// execOutput sends what the command writes to one of its outputs as
// messages of at most structs.ExecStreamChunk bytes. A caller that takes
// no more cancels the exec.
type execOutput struct {
	s      *execSession
	ctx    context.Context
	stderr bool
}

func (o *execOutput) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += structs.ExecStreamChunk {
		part := p[off:min(len(p), off+structs.ExecStreamChunk)]
		msg := &structs.ExecStreamOutput{Stdout: part}
		if o.stderr {
			msg = &structs.ExecStreamOutput{Stderr: part}
		}
		if err := o.s.send(o.ctx, msg); err != nil {
			o.s.cancel()
			return off, err
		}
	}
	return len(p), nil
}
