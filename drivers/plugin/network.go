package plugin

import (
	"context"
	"fmt"

	"github.com/mk-orchestrator/mk/drivers"
	pb "github.com/mk-orchestrator/mk/drivers/proto"
)

// The optional capabilities drivers.NetworkDriver and drivers.Reconciler
// over gRPC. The client side always has the methods; a plugin whose
// driver lacks the capability answers UNIMPLEMENTED, which reads as
// drivers.ErrNotSupported.

func (s *grpcServer) CreateNetwork(ctx context.Context, req *pb.CreateNetworkRequest) (*pb.CreateNetworkResponse, error) {
	nd, ok := s.impl.(drivers.NetworkDriver)
	if !ok {
		return nil, toStatus(fmt.Errorf("create network: %w", drivers.ErrNotSupported))
	}
	images := make([]drivers.ImageRef, 0, len(req.Images))
	for _, im := range req.Images {
		images = append(images, drivers.ImageRef{Image: im.Image, Pull: im.Pull})
	}
	spec, err := nd.CreateNetwork(ctx, &drivers.NetworkRequest{PodID: req.PodId, NodeID: req.NodeId, JobID: req.JobId, Images: images})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateNetworkResponse{NetnsPath: spec.NetNSPath, SandboxId: spec.SandboxID}, nil
}

func (s *grpcServer) DestroyNetwork(ctx context.Context, req *pb.DestroyNetworkRequest) (*pb.DestroyNetworkResponse, error) {
	nd, ok := s.impl.(drivers.NetworkDriver)
	if !ok {
		return nil, toStatus(fmt.Errorf("destroy network: %w", drivers.ErrNotSupported))
	}
	return &pb.DestroyNetworkResponse{}, toStatus(nd.DestroyNetwork(ctx, req.PodId))
}

func (s *grpcServer) Reconcile(ctx context.Context, req *pb.ReconcileRequest) (*pb.ReconcileResponse, error) {
	r, ok := s.impl.(drivers.Reconciler)
	if !ok {
		return nil, toStatus(fmt.Errorf("reconcile: %w", drivers.ErrNotSupported))
	}
	removed, err := r.Reconcile(ctx, req.NodeId, req.LivePodIds)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReconcileResponse{Removed: removed}, nil
}

var (
	_ drivers.NetworkDriver = (*grpcClient)(nil)
	_ drivers.Reconciler    = (*grpcClient)(nil)
)

func (c *grpcClient) CreateNetwork(ctx context.Context, req *drivers.NetworkRequest) (*drivers.NetworkSpec, error) {
	ctx, cancel := c.merge(ctx)
	defer cancel()
	images := make([]*pb.ImageRef, 0, len(req.Images))
	for _, im := range req.Images {
		images = append(images, &pb.ImageRef{Image: im.Image, Pull: im.Pull})
	}
	r, err := c.client.CreateNetwork(ctx, &pb.CreateNetworkRequest{PodId: req.PodID, NodeId: req.NodeID, JobId: req.JobID, Images: images})
	if err != nil {
		return nil, c.callErr("create network of pod "+req.PodID, err)
	}
	return &drivers.NetworkSpec{NetNSPath: r.NetnsPath, SandboxID: r.SandboxId}, nil
}

func (c *grpcClient) DestroyNetwork(ctx context.Context, podID string) error {
	ctx, cancel := c.merge(ctx)
	defer cancel()
	_, err := c.client.DestroyNetwork(ctx, &pb.DestroyNetworkRequest{PodId: podID})
	return c.callErr("destroy network of pod "+podID, err)
}

func (c *grpcClient) Reconcile(ctx context.Context, nodeID string, livePods []string) ([]string, error) {
	ctx, cancel := c.merge(ctx)
	defer cancel()
	r, err := c.client.Reconcile(ctx, &pb.ReconcileRequest{NodeId: nodeID, LivePodIds: livePods})
	if err != nil {
		return nil, c.callErr("reconcile", err)
	}
	return r.Removed, nil
}

var (
	_ drivers.NetworkDriver = (*Supervisor)(nil)
	_ drivers.Reconciler    = (*Supervisor)(nil)
)

// CreateNetwork forwards to the plugin.
func (s *Supervisor) CreateNetwork(ctx context.Context, req *drivers.NetworkRequest) (*drivers.NetworkSpec, error) {
	d, _ := s.current()
	nd, ok := d.(drivers.NetworkDriver)
	if !ok {
		return nil, fmt.Errorf("create network: driver %s: %w", s.name, drivers.ErrNotSupported)
	}
	return nd.CreateNetwork(ctx, req)
}

// DestroyNetwork forwards to the plugin.
func (s *Supervisor) DestroyNetwork(ctx context.Context, podID string) error {
	d, _ := s.current()
	nd, ok := d.(drivers.NetworkDriver)
	if !ok {
		return fmt.Errorf("destroy network: driver %s: %w", s.name, drivers.ErrNotSupported)
	}
	return nd.DestroyNetwork(ctx, podID)
}

// Reconcile forwards to the plugin.
func (s *Supervisor) Reconcile(ctx context.Context, nodeID string, livePods []string) ([]string, error) {
	d, _ := s.current()
	r, ok := d.(drivers.Reconciler)
	if !ok {
		return nil, fmt.Errorf("reconcile: driver %s: %w", s.name, drivers.ErrNotSupported)
	}
	return r.Reconcile(ctx, nodeID, livePods)
}
