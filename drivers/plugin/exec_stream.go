package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
)

// stdinChunk is the most input one message carries.
const stdinChunk = 32 << 10

var _ drivers.StreamingExecer = (*grpcClient)(nil)

// ExecTaskStreaming runs the exec over one bidirectional stream; it ends
// when the caller's ctx or the plugin does, and the plugin then kills the
// command. A plugin whose driver cannot stream exec fails the call
// (structs.ErrBadRequest through fromStatus: UNIMPLEMENTED).
func (c *grpcClient) ExecTaskStreaming(ctx context.Context, taskID string, opts *drivers.ExecStreamOptions) (int, error) {
	callCtx, cancel := c.merge(ctx)
	defer cancel()
	stream, err := c.client.ExecTaskStreaming(callCtx)
	if err != nil {
		return 0, c.execErr(ctx, err)
	}
	var mu sync.Mutex
	send := func(m *pb.ExecStreamRequest) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(m)
	}
	setup := &pb.ExecStreamSetup{TaskId: taskID, Cmd: opts.Command, Tty: opts.TTY, Stdin: opts.Stdin != nil}
	if err := send(&pb.ExecStreamRequest{Setup: setup}); err != nil {
		return 0, c.execErr(ctx, err)
	}
	if opts.Stdin != nil {
		go sendStdin(opts.Stdin, send)
	}
	if opts.Resize != nil {
		go sendResizes(callCtx, opts.Resize, send)
	}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			err = errors.New("the plugin ended the exec without an exit code")
		}
		if err != nil {
			return 0, c.execErr(ctx, err)
		}
		if err := writeOutput(r, opts); err != nil {
			return 0, fmt.Errorf("exec in task: write output: %w", err)
		}
		if r.Exit != nil {
			return int(r.Exit.ExitCode), nil
		}
	}
}

// execErr converts a streaming exec's error: the caller's own ctx.Err()
// when it went away.
func (c *grpcClient) execErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("exec in task: %w", ctx.Err())
	}
	return c.callErr("exec in task", err)
}

// writeOutput writes a response's output where opts says.
func writeOutput(r *pb.ExecStreamResponse, opts *drivers.ExecStreamOptions) error {
	for _, o := range []struct {
		b []byte
		w io.Writer
	}{{r.Stdout, opts.Stdout}, {r.Stderr, opts.Stderr}} {
		if len(o.b) == 0 || o.w == nil {
			continue
		}
		if _, err := o.w.Write(o.b); err != nil {
			return err
		}
	}
	return nil
}

// sendStdin sends in as stdin messages, then stdin_close once it ends.
func sendStdin(in io.Reader, send func(*pb.ExecStreamRequest) error) {
	buf := make([]byte, stdinChunk)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if send(&pb.ExecStreamRequest{Stdin: append([]byte(nil), buf[:n]...)}) != nil {
				return
			}
		}
		if err != nil {
			_ = send(&pb.ExecStreamRequest{StdinClose: true})
			return
		}
	}
}

// sendResizes sends the terminal's sizes until ctx ends or sizes closes.
func sendResizes(ctx context.Context, sizes <-chan drivers.TerminalSize, send func(*pb.ExecStreamRequest) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case sz, ok := <-sizes:
			if !ok || send(&pb.ExecStreamRequest{Resize: &pb.TerminalSize{Rows: uint32(sz.Rows), Cols: uint32(sz.Cols)}}) != nil {
				return
			}
		}
	}
}

// ExecTaskStreaming serves a streaming exec for a driver that has the
// capability; the call's end (the host cancelled it) kills the command.
func (s *grpcServer) ExecTaskStreaming(stream pb.Driver_ExecTaskStreamingServer) error {
	se, ok := s.impl.(drivers.StreamingExecer)
	if !ok {
		return status.Error(codes.Unimplemented, "the driver cannot stream exec")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	setup := first.Setup
	if setup == nil {
		return status.Error(codes.InvalidArgument, "the first message of an exec must be its setup")
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var mu sync.Mutex
	send := func(m *pb.ExecStreamResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return stream.Send(m)
	}
	resize := make(chan drivers.TerminalSize, 1)
	opts := &drivers.ExecStreamOptions{
		Command: setup.Cmd, TTY: setup.Tty, Resize: resize,
		Stdout: sendWriter(func(b []byte) error { return send(&pb.ExecStreamResponse{Stdout: b}) }),
		Stderr: sendWriter(func(b []byte) error { return send(&pb.ExecStreamResponse{Stderr: b}) }),
	}
	var stdin *io.PipeWriter
	if setup.Stdin {
		r, w := io.Pipe()
		defer r.Close() // unblocks a write of input the command never read
		opts.Stdin, stdin = r, w
	}
	go recvInput(ctx, stream, stdin, resize)
	code, err := se.ExecTaskStreaming(ctx, setup.TaskId, opts)
	if err != nil {
		return toStatus(err)
	}
	return send(&pb.ExecStreamResponse{Exit: &pb.ExecStreamExit{ExitCode: int32(code)}})
}

// recvInput passes the host's input and resizes on until the stream ends.
func recvInput(ctx context.Context, stream pb.Driver_ExecTaskStreamingServer, stdin *io.PipeWriter, resize chan<- drivers.TerminalSize) {
	for {
		m, err := stream.Recv()
		if err != nil {
			if stdin != nil {
				stdin.Close()
			}
			return
		}
		if len(m.Stdin) > 0 && stdin != nil {
			if _, err := stdin.Write(m.Stdin); err != nil {
				stdin = nil // the command stopped reading
			}
		}
		if m.StdinClose && stdin != nil {
			stdin.Close()
			stdin = nil
		}
		if m.Resize != nil {
			select {
			case resize <- drivers.TerminalSize{Rows: uint16(m.Resize.Rows), Cols: uint16(m.Resize.Cols)}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// sendWriter is an io.Writer that sends each write as one message; the
// bytes are copied, since gRPC may hold them after Send returns.
type sendWriter func([]byte) error

func (f sendWriter) Write(p []byte) (int, error) {
	if err := f(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
