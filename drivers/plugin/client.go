package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
)

// grpcClient is a drivers.Driver that calls a plugin over gRPC.
type grpcClient struct {
	client pb.DriverClient
	// doneCtx is cancelled by go-plugin when the plugin process exits, so
	// calls in flight fail at once instead of hanging.
	doneCtx context.Context
}

var _ drivers.Driver = (*grpcClient)(nil)

// callErr converts a call's error, naming the plugin's exit when that is
// why the call failed.
func (c *grpcClient) callErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if c.doneCtx.Err() != nil {
		return fmt.Errorf("%s: %w: the plugin process exited", what, ErrPluginUnavailable)
	}
	return fmt.Errorf("%s: %w", what, fromStatus(err))
}

// merge returns a context done when ctx or the plugin is.
func (c *grpcClient) merge(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.doneCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (c *grpcClient) Fingerprint(ctx context.Context) (*drivers.Fingerprint, error) {
	ctx, cancel := c.merge(ctx)
	defer cancel()
	r, err := c.client.Fingerprint(ctx, &pb.FingerprintRequest{})
	if err != nil {
		return nil, c.callErr("fingerprint", err)
	}
	return &drivers.Fingerprint{Detected: r.Detected, Healthy: r.Healthy, Description: r.Description, Attributes: r.Attributes}, nil
}

func (c *grpcClient) StartTask(cfg *drivers.TaskConfig) (*drivers.TaskHandle, error) {
	pcfg, err := taskConfigToProto(cfg)
	if err != nil {
		return nil, fmt.Errorf("start task: %w", err)
	}
	r, err := c.client.StartTask(c.doneCtx, &pb.StartTaskRequest{Config: pcfg})
	if err != nil {
		return nil, c.callErr("start task", err)
	}
	h, err := handleFromProto(r.Handle)
	if err != nil {
		return nil, fmt.Errorf("start task: %w", err)
	}
	return h, nil
}

// WaitTask returns once the plugin has accepted the wait (so an unknown
// task is an error here); if the plugin dies while waiting, the result
// carries ErrPluginUnavailable.
func (c *grpcClient) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	sctx, cancel := c.merge(ctx)
	stream, err := c.client.WaitTask(sctx, &pb.WaitTaskRequest{TaskId: taskID})
	if err == nil {
		err = accepted(stream)
	}
	if err != nil {
		cancel()
		return nil, c.callErr("wait task", err)
	}
	ch := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(ch)
		defer cancel()
		r, err := stream.Recv()
		switch {
		case err == nil:
			ch <- exitResultFromProto(r)
		case ctx.Err() != nil:
		default:
			ch <- &drivers.ExitResult{Err: c.callErr("wait task", err)}
		}
	}()
	return ch, nil
}

func (c *grpcClient) StopTask(taskID string, timeout time.Duration, signal string) error {
	_, err := c.client.StopTask(c.doneCtx, &pb.StopTaskRequest{TaskId: taskID, TimeoutNanos: int64(timeout), Signal: signal})
	return c.callErr("stop task", err)
}

func (c *grpcClient) DestroyTask(taskID string, force bool) error {
	_, err := c.client.DestroyTask(c.doneCtx, &pb.DestroyTaskRequest{TaskId: taskID, Force: force})
	return c.callErr("destroy task", err)
}

func (c *grpcClient) InspectTask(taskID string) (*drivers.TaskStatus, error) {
	r, err := c.client.InspectTask(c.doneCtx, &pb.InspectTaskRequest{TaskId: taskID})
	if err != nil {
		return nil, c.callErr("inspect task", err)
	}
	return statusFromProto(r), nil
}

func (c *grpcClient) TaskStats(ctx context.Context, taskID string, interval time.Duration) (<-chan *drivers.TaskResourceUsage, error) {
	sctx, cancel := c.merge(ctx)
	stream, err := c.client.TaskStats(sctx, &pb.TaskStatsRequest{TaskId: taskID, IntervalNanos: int64(interval)})
	if err == nil {
		err = accepted(stream)
	}
	if err != nil {
		cancel()
		return nil, c.callErr("task stats", err)
	}
	ch := make(chan *drivers.TaskResourceUsage)
	go func() {
		defer close(ch)
		defer cancel()
		for {
			u, err := stream.Recv()
			if err != nil {
				return
			}
			select {
			case ch <- usageFromProto(u):
			case <-sctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func (c *grpcClient) RecoverTask(h *drivers.TaskHandle) error {
	ph, err := handleToProto(h)
	if err != nil {
		return fmt.Errorf("recover task: %w", err)
	}
	_, err = c.client.RecoverTask(c.doneCtx, &pb.RecoverTaskRequest{Handle: ph})
	return c.callErr("recover task", err)
}

func (c *grpcClient) ExecTask(ctx context.Context, taskID string, cmd []string, timeout time.Duration) (*drivers.ExecResult, error) {
	// The call ends when the caller's ctx or the plugin does; the plugin
	// then kills the command.
	callCtx, cancel := c.merge(ctx)
	defer cancel()
	r, err := c.client.ExecTask(callCtx, &pb.ExecTaskRequest{TaskId: taskID, Cmd: cmd, TimeoutNanos: int64(timeout)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("exec in task: %w", ctx.Err())
		}
		return nil, c.callErr("exec in task", err)
	}
	return &drivers.ExecResult{Stdout: r.Stdout, Stderr: r.Stderr, ExitCode: int(r.ExitCode)}, nil
}

// accepted waits for a streaming call's header and returns the call's
// error when the server ended it without accepting it.
func accepted(stream grpc.ClientStream) error {
	md, err := stream.Header()
	if err != nil {
		return err
	}
	if len(md.Get(acceptedHeader)) > 0 {
		return nil
	}
	if err := stream.RecvMsg(new(emptypb.Empty)); err != nil && err != io.EOF {
		return err
	}
	return errors.New("stream ended before it was accepted")
}

// isUnavailable reports whether err means the plugin could not be
// reached.
func isUnavailable(err error) bool { return errors.Is(err, ErrPluginUnavailable) }
