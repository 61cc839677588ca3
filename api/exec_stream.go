package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/mk-orchestrator/mk/structs"
)

// ExecStreamOptions is what PodExecStream runs and where its input and
// output go.
type ExecStreamOptions struct {
	// Task may be empty when the pod has one task.
	Task    string
	Command []string
	// TTY runs the command on a new pseudo-terminal: its stdout and
	// stderr come as one stream, written to Stdout.
	TTY bool
	// Stdin is the command's input; nil gives it none. It is read in a
	// goroutine of its own, which may still be blocked in a Read after
	// PodExecStream returned (it sends nothing more then).
	Stdin io.Reader
	// Stdout and Stderr receive the output as it comes; nil discards.
	Stdout, Stderr io.Writer
	// Resize sends the terminal's sizes (TTY only); may be nil.
	Resize <-chan structs.TerminalSize
}

// PodExecStream runs a command in a running task of a pod (ID or unique
// prefix) over a WebSocket, with its input and output streamed while it
// runs, and returns its exit code; a non-zero exit is a result, not an
// error. The command has no timeout: it runs until it exits or ctx ends,
// which kills it (the error then matches ctx.Err()). The node that runs
// the pod answers; servers forward the connection there.
func (c *Client) PodExecStream(ctx context.Context, ref string, opts *ExecStreamOptions) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := c.dialExecStream(ctx, ref, opts)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.CloseNow() }()
	send := func(in *structs.ExecStreamInput) error { return wsjson.Write(ctx, conn, in) }
	if opts.Resize != nil {
		go sendSizes(ctx, opts.Resize, send)
	}
	if opts.Stdin != nil {
		go sendStdin(opts.Stdin, send)
	}
	return readExecOutput(ctx, conn, ref, opts)
}

// dialExecStream opens the WebSocket of a streaming exec. An error
// answered before the upgrade comes back as an *Error.
func (c *Client) dialExecStream(ctx context.Context, ref string, opts *ExecStreamOptions) (*websocket.Conn, error) {
	cmd, err := json.Marshal(opts.Command)
	if err != nil {
		return nil, fmt.Errorf("encode the command: %w", err)
	}
	params := map[string]string{
		structs.ExecStreamQueryCommand: string(cmd),
		structs.ExecStreamQueryTTY:     strconv.FormatBool(opts.TTY),
		structs.ExecStreamQueryStdin:   strconv.FormatBool(opts.Stdin != nil),
	}
	if opts.Task != "" {
		params[structs.ExecStreamQueryTask] = opts.Task
	}
	u := c.url("/v1/pod/"+url.PathEscape(ref)+"/exec", &QueryOptions{Params: params})
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, c.decodeError(resp)
		}
		return nil, c.unreachable(err)
	}
	conn.SetReadLimit(structs.ExecStreamMaxMessage)
	return conn, nil
}

// readExecOutput writes the command's output as it comes until the
// message that says how it ended.
func readExecOutput(ctx context.Context, conn *websocket.Conn, ref string, opts *ExecStreamOptions) (int, error) {
	for {
		var out structs.ExecStreamOutput
		if err := wsjson.Read(ctx, conn, &out); err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("exec in pod %s: %w", ref, ctx.Err())
			}
			return 0, fmt.Errorf("exec in pod %s: the connection ended before the command did: %w", ref, err)
		}
		if err := writeTo(opts.Stdout, out.Stdout); err != nil {
			return 0, fmt.Errorf("exec in pod %s: write stdout: %w", ref, err)
		}
		if err := writeTo(opts.Stderr, out.Stderr); err != nil {
			return 0, fmt.Errorf("exec in pod %s: write stderr: %w", ref, err)
		}
		switch {
		case out.Error != "":
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return 0, errors.New(out.Error)
		case out.Exited:
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return out.ExitCode, nil
		}
	}
}

func writeTo(w io.Writer, b []byte) error {
	if w == nil || len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}

// sendStdin sends in as Stdin messages, then StdinClose once it ends.
func sendStdin(in io.Reader, send func(*structs.ExecStreamInput) error) {
	buf := make([]byte, structs.ExecStreamChunk)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if send(&structs.ExecStreamInput{Stdin: buf[:n]}) != nil {
				return
			}
		}
		if err != nil {
			_ = send(&structs.ExecStreamInput{StdinClose: true})
			return
		}
	}
}

// sendSizes sends the terminal's sizes until ctx ends or sizes closes.
func sendSizes(ctx context.Context, sizes <-chan structs.TerminalSize, send func(*structs.ExecStreamInput) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case sz, ok := <-sizes:
			if !ok || send(&structs.ExecStreamInput{Resize: &sz}) != nil {
				return
			}
		}
	}
}
