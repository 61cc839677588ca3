package server

import (
	"fmt"
	"time"

	"github.com/mk-orchestrator/mk/structs"
)

// RegisterNode registers a client's node (or refreshes its fingerprint) as
// ready and starts its heartbeat timer. It must run on the leader.
func (s *Server) RegisterNode(node *structs.Node) (*structs.NodeRegisterResponse, error) {
	if node == nil || node.ID == "" || node.Name == "" {
		return nil, &structs.ValidationError{Field: "Node", Msg: "must have an ID and a Name"}
	}
	if node.Resources == nil || node.Resources.CPU <= 0 || node.Resources.MemoryMB <= 0 {
		return nil, &structs.ValidationError{Path: fmt.Sprintf("node %q", node.Name), Field: "Resources", Msg: "cpu and memory must be > 0"}
	}
	node.Status = structs.NodeStatusReady
	node.StatusUpdatedAt = time.Now().UnixNano()
	req := &structs.NodeRegisterRequest{Node: node, PodCIDRPool: s.config.PodCIDRPool}
	_, index, err := s.raftApply(structs.NodeRegisterRequestType, req)
	if err != nil {
		return nil, fmt.Errorf("register node %s: %w", node.ID, err)
	}
	stored, err := s.State().NodeByID(nil, node.ID)
	if err != nil || stored == nil {
		return nil, fmt.Errorf("register node %s: read it back: %v", node.ID, err)
	}
	ttl := s.heartbeats.reset(node.ID)
	return &structs.NodeRegisterResponse{Index: index, HeartbeatTTL: ttl.String(), PodCIDR: stored.PodCIDR,
		Network: &structs.ClusterNetwork{PodCIDRPool: s.config.PodCIDRPool, ServiceCIDR: s.config.ServiceCIDR}}, nil
}

// NodeHeartbeat resets a node's heartbeat timer and marks it ready again
// if it had been marked down.
func (s *Server) NodeHeartbeat(nodeID string) (*structs.NodeRegisterResponse, error) {
	node, err := s.State().NodeByID(nil, nodeID)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, structs.NotFoundError("node", nodeID)
	}
	var index uint64
	if node.Status != structs.NodeStatusReady {
		if index, err = s.setNodeStatus(nodeID, structs.NodeStatusReady); err != nil {
			return nil, err
		}
	}
	ttl := s.heartbeats.reset(nodeID)
	return &structs.NodeRegisterResponse{Index: index, HeartbeatTTL: ttl.String()}, nil
}

func (s *Server) setNodeStatus(nodeID, status string) (uint64, error) {
	req := &structs.NodeStatusRequest{NodeID: nodeID, Status: status, UpdatedAt: time.Now().UnixNano()}
	_, index, err := s.raftApply(structs.NodeStatusRequestType, req)
	if err != nil {
		return 0, fmt.Errorf("set node %s %s: %w", nodeID, status, err)
	}
	return index, nil
}

// PurgeNode removes a node that is not ready; its heartbeat timer goes.
func (s *Server) PurgeNode(nodeID string) (uint64, error) {
	_, index, err := s.raftApply(structs.NodePurgeRequestType, &structs.NodePurgeRequest{NodeID: nodeID})
	if err != nil {
		return 0, fmt.Errorf("purge node %s: %w", nodeID, err)
	}
	s.heartbeats.forget(nodeID)
	s.kickControllers()
	return index, nil
}

// UpdateNodeScheduling changes a node's drain or eligibility.
func (s *Server) UpdateNodeScheduling(req *structs.NodeSchedulingRequest) (uint64, error) {
	if req.Eligibility != "" && req.Eligibility != structs.NodeEligible && req.Eligibility != structs.NodeIneligible {
		return 0, &structs.ValidationError{Field: "Eligibility", Msg: "must be eligible or ineligible"}
	}
	_, index, err := s.raftApply(structs.NodeSchedulingRequestType, req)
	if err != nil {
		return 0, fmt.Errorf("node %s scheduling: %w", req.NodeID, err)
	}
	s.kickControllers()
	return index, nil
}

// UpdatePodStatus records a batch of a client's pod reports.
func (s *Server) UpdatePodStatus(req *structs.PodStatusRequest) (uint64, error) {
	req.UpdatedAt = time.Now().UnixNano()
	_, index, err := s.raftApply(structs.PodStatusRequestType, req)
	if err != nil {
		return 0, fmt.Errorf("pod status from node %s: %w", req.NodeID, err)
	}
	return index, nil
}

// StopPod asks for one pod to stop; its owner replaces it if it should run.
func (s *Server) StopPod(namespace, id string) (uint64, error) {
	pod, err := s.State().PodByID(nil, namespace, id)
	if err != nil {
		return 0, err
	}
	if pod == nil {
		return 0, structs.NotFoundError("pod", id)
	}
	p := structs.Copy(pod)
	p.DesiredStatus, p.DesiredReason = structs.PodDesiredStop, "stopped by user"
	p.ModifyTime = time.Now().UnixNano()
	_, index, err := s.apiApply(structs.PodsUpsertRequestType, &structs.PodsUpsertRequest{Pods: []*structs.Pod{p}}, p.Namespace, p.JobID)
	// Marked once the stop is applied, or a pass between could retry the
	// pending pods before the room is free and forget it.
	s.dirty.markRoom()
	s.kickControllers()
	if err != nil {
		return 0, fmt.Errorf("stop pod %s: %w", id, err)
	}
	return index, nil
}
