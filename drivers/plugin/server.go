package plugin

import (
	"context"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
)

// acceptedHeader is the header a streaming call sends once the driver
// accepted it; its absence means the call failed before streaming.
const acceptedHeader = "mk-accepted"

// grpcServer serves a drivers.Driver over gRPC, in the plugin process.
type grpcServer struct {
	pb.UnimplementedDriverServer
	impl drivers.Driver
}

func (s *grpcServer) Fingerprint(ctx context.Context, _ *pb.FingerprintRequest) (*pb.FingerprintResponse, error) {
	fp, err := s.impl.Fingerprint(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.FingerprintResponse{
		Detected: fp.Detected, Healthy: fp.Healthy, Description: fp.Description, Attributes: fp.Attributes,
	}, nil
}

func (s *grpcServer) StartTask(_ context.Context, req *pb.StartTaskRequest) (*pb.StartTaskResponse, error) {
	cfg, err := taskConfigFromProto(req.Config)
	if err != nil {
		return nil, toStatus(err)
	}
	h, err := s.impl.StartTask(cfg)
	if err != nil {
		return nil, toStatus(err)
	}
	ph, err := handleToProto(h)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StartTaskResponse{Handle: ph}, nil
}

// WaitTask sends the header at once, so the client learns of an unknown
// task before it waits, then sends the exit result.
func (s *grpcServer) WaitTask(req *pb.WaitTaskRequest, stream pb.Driver_WaitTaskServer) error {
	ch, err := s.impl.WaitTask(stream.Context(), req.TaskId)
	if err != nil {
		return toStatus(err)
	}
	if err := stream.SendHeader(metadata.Pairs(acceptedHeader, "1")); err != nil {
		return err
	}
	res, ok := <-ch
	if !ok {
		return stream.Context().Err()
	}
	return stream.Send(exitResultToProto(res))
}

func (s *grpcServer) StopTask(_ context.Context, req *pb.StopTaskRequest) (*pb.StopTaskResponse, error) {
	err := s.impl.StopTask(req.TaskId, time.Duration(req.TimeoutNanos), req.Signal)
	return &pb.StopTaskResponse{}, toStatus(err)
}

func (s *grpcServer) DestroyTask(_ context.Context, req *pb.DestroyTaskRequest) (*pb.DestroyTaskResponse, error) {
	err := s.impl.DestroyTask(req.TaskId, req.Force)
	return &pb.DestroyTaskResponse{}, toStatus(err)
}

func (s *grpcServer) InspectTask(_ context.Context, req *pb.InspectTaskRequest) (*pb.InspectTaskResponse, error) {
	st, err := s.impl.InspectTask(req.TaskId)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InspectTaskResponse{
		Id: st.ID, Name: st.Name, State: st.State, Pid: int64(st.PID),
		StartedAt: st.StartedAt, CompletedAt: st.CompletedAt,
		ExitResult: exitResultToProto(st.ExitResult), Details: st.Details,
	}, nil
}

func (s *grpcServer) TaskStats(req *pb.TaskStatsRequest, stream pb.Driver_TaskStatsServer) error {
	ch, err := s.impl.TaskStats(stream.Context(), req.TaskId, time.Duration(req.IntervalNanos))
	if err != nil {
		return toStatus(err)
	}
	if err := stream.SendHeader(metadata.Pairs(acceptedHeader, "1")); err != nil {
		return err
	}
	for u := range ch {
		if err := stream.Send(usageToProto(u)); err != nil {
			return err
		}
	}
	return nil
}

func (s *grpcServer) RecoverTask(_ context.Context, req *pb.RecoverTaskRequest) (*pb.RecoverTaskResponse, error) {
	h, err := handleFromProto(req.Handle)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RecoverTaskResponse{}, toStatus(s.impl.RecoverTask(h))
}

func (s *grpcServer) ExecTask(ctx context.Context, req *pb.ExecTaskRequest) (*pb.ExecTaskResponse, error) {
	// ctx ends when the host cancels the call: the command is killed.
	res, err := s.impl.ExecTask(ctx, req.TaskId, req.Cmd, time.Duration(req.TimeoutNanos))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ExecTaskResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: int32(res.ExitCode)}, nil
}
