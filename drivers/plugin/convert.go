package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
	"github.com/mk-orchestrator/mk/structs"
)

// ErrPluginUnavailable is returned (wrapped) by the gRPC client when the
// plugin process cannot be reached: it exited or is restarting.
var ErrPluginUnavailable = errors.New("driver plugin unavailable")

func taskConfigToProto(c *drivers.TaskConfig) (*pb.TaskConfig, error) {
	if c == nil {
		return nil, nil
	}
	var task []byte
	if c.Task != nil {
		b, err := json.Marshal(c.Task)
		if err != nil {
			return nil, fmt.Errorf("encode task: %w", err)
		}
		task = b
	}
	return &pb.TaskConfig{
		Id: c.ID, PodId: c.PodID, Name: c.Name, TaskJson: task, TaskDir: c.TaskDir,
		StdoutPath: c.StdoutPath, StderrPath: c.StderrPath, NetnsPath: c.NetNSPath,
		Mounts: mountsToProto(c.Mounts), ResolvConfPath: c.ResolvConfPath,
		NodeId: c.NodeID, JobId: c.JobID, Gpus: c.GPUs,
	}, nil
}

func mountsToProto(ms []*drivers.MountConfig) []*pb.MountConfig {
	var out []*pb.MountConfig
	for _, m := range ms {
		if m != nil {
			out = append(out, &pb.MountConfig{Volume: m.Volume, HostPath: m.HostPath, TaskPath: m.TaskPath, ReadOnly: m.ReadOnly})
		}
	}
	return out
}

func mountsFromProto(ms []*pb.MountConfig) []*drivers.MountConfig {
	var out []*drivers.MountConfig
	for _, m := range ms {
		if m != nil {
			out = append(out, &drivers.MountConfig{Volume: m.Volume, HostPath: m.HostPath, TaskPath: m.TaskPath, ReadOnly: m.ReadOnly})
		}
	}
	return out
}

func taskConfigFromProto(c *pb.TaskConfig) (*drivers.TaskConfig, error) {
	if c == nil {
		return nil, nil
	}
	out := &drivers.TaskConfig{
		ID: c.Id, PodID: c.PodId, Name: c.Name, TaskDir: c.TaskDir,
		StdoutPath: c.StdoutPath, StderrPath: c.StderrPath, NetNSPath: c.NetnsPath,
		Mounts: mountsFromProto(c.Mounts), ResolvConfPath: c.ResolvConfPath,
		NodeID: c.NodeId, JobID: c.JobId, GPUs: c.Gpus,
	}
	if len(c.TaskJson) > 0 {
		out.Task = &structs.Task{}
		if err := json.Unmarshal(c.TaskJson, out.Task); err != nil {
			return nil, fmt.Errorf("decode task: %w", err)
		}
	}
	return out, nil
}

func handleToProto(h *drivers.TaskHandle) (*pb.TaskHandle, error) {
	if h == nil {
		return nil, nil
	}
	cfg, err := taskConfigToProto(h.Config)
	if err != nil {
		return nil, err
	}
	return &pb.TaskHandle{Driver: h.Driver, Config: cfg, DriverState: h.DriverState}, nil
}

func handleFromProto(h *pb.TaskHandle) (*drivers.TaskHandle, error) {
	if h == nil {
		return nil, errors.New("no task handle")
	}
	cfg, err := taskConfigFromProto(h.Config)
	if err != nil {
		return nil, err
	}
	return &drivers.TaskHandle{Driver: h.Driver, Config: cfg, DriverState: h.DriverState}, nil
}

func exitResultToProto(r *drivers.ExitResult) *pb.ExitResult {
	if r == nil {
		return nil
	}
	out := &pb.ExitResult{ExitCode: int32(r.ExitCode), Signal: int32(r.Signal), OomKilled: r.OOMKilled}
	if r.Err != nil {
		out.Err = r.Err.Error()
	}
	return out
}

func exitResultFromProto(r *pb.ExitResult) *drivers.ExitResult {
	if r == nil {
		return nil
	}
	out := &drivers.ExitResult{ExitCode: int(r.ExitCode), Signal: int(r.Signal), OOMKilled: r.OomKilled}
	if r.Err != "" {
		out.Err = errors.New(r.Err)
	}
	return out
}

func statusFromProto(r *pb.InspectTaskResponse) *drivers.TaskStatus {
	return &drivers.TaskStatus{
		ID: r.Id, Name: r.Name, State: r.State, PID: int(r.Pid),
		StartedAt: r.StartedAt, CompletedAt: r.CompletedAt,
		ExitResult: exitResultFromProto(r.ExitResult), Details: r.Details,
	}
}

func usageToProto(u *drivers.TaskResourceUsage) *pb.TaskResourceUsage {
	return &pb.TaskResourceUsage{
		Timestamp: u.Timestamp, CpuPercent: u.CPUPercent, CpuTotalNanos: u.CPUTotalNanos,
		MemoryRss: u.MemoryRSS, MemoryUsage: u.MemoryUsage,
	}
}

func usageFromProto(u *pb.TaskResourceUsage) *drivers.TaskResourceUsage {
	return &drivers.TaskResourceUsage{
		Timestamp: u.Timestamp, CPUPercent: u.CpuPercent, CPUTotalNanos: u.CpuTotalNanos,
		MemoryRSS: u.MemoryRss, MemoryUsage: u.MemoryUsage,
	}
}

// toStatus turns a driver error into a gRPC status, keeping the kinds the
// client tells apart.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, drivers.ErrTaskNotFound):
		code = codes.NotFound
	case errors.Is(err, drivers.ErrTaskRunning):
		code = codes.FailedPrecondition
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, drivers.ErrNotSupported):
		code = codes.Unimplemented
	}
	return status.Error(code, err.Error())
}

// remoteError is an error from the plugin: its text, and the sentinel it
// wrapped on the plugin's side.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// fromStatus turns a gRPC error back into a driver error that errors.Is
// matches against drivers.ErrTaskNotFound, drivers.ErrTaskRunning,
// context.DeadlineExceeded (an exec that timed out) and
// ErrPluginUnavailable.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return &remoteError{msg: st.Message(), kind: drivers.ErrTaskNotFound}
	case codes.FailedPrecondition:
		return &remoteError{msg: st.Message(), kind: drivers.ErrTaskRunning}
	case codes.DeadlineExceeded:
		return &remoteError{msg: st.Message(), kind: context.DeadlineExceeded}
	case codes.Unimplemented:
		return &remoteError{msg: st.Message(), kind: drivers.ErrNotSupported}
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%w: %s", ErrPluginUnavailable, st.Message())
	}
	return &remoteError{msg: st.Message()}
}
